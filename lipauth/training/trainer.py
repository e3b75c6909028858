"""Train a lip embedding with triplet (or contrastive) loss; keep the checkpoint with the
best validation EER; calibrate thresholds on the validation speakers.

Single process, or DDP under torchrun (gloo on CPU): every rank draws its own PK batches,
gradients are averaged, rank 0 validates, saves and decides early stopping.

RUN_DIR/
    config.yaml      the resolved config
    run.json         seed, git commit, versions, speakers of each split, command
    metrics.jsonl    one line per epoch: loss, validation EER, seconds
    checkpoint.pt    last epoch, for --resume
    model.pt         the best model, self-contained (see lipauth.models.embedder)
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import yaml

from lipauth import __version__
from lipauth.features.augment import AugmentSpec, augment
from lipauth.features.batching import NORMALIZE, to_batch
from lipauth.features.mfcc import has_audio
from lipauth.clip import LipClip
from lipauth.corpora.dataset import Dataset
from lipauth.protocol import Split, make_trials, split_speakers
from lipauth.training.sampling import PKSampler, challenging_triplets
from lipauth.errors import InvalidInputError
from lipauth.measure.metrics import eer
from lipauth.scoring.calibration import calibrate, calibrate_verification
from lipauth.scoring.whitening import Whitening
from lipauth.models.embedder import LipEmbedder
from lipauth.models.ensemble import ensemble_of
from lipauth.models.registry import create_model
from lipauth.training.config import TrainConfig, TrainSpec
from lipauth.training.ensemble import member_seeds, train_members
from lipauth.training.loop import Checkpoint, EarlyStopping, KeepBest, LoopState, MetricsLog, ProgressLine, broadcast, run_epochs
from lipauth.training.losses import make_loss, make_miner
from lipauth.clip import CropSpec


def resolve_split(cfg: TrainConfig, speakers: list[str]) -> Split:
    s = cfg.split
    if s.train or s.val or s.test:
        named = set((s.train or []) + (s.val or []) + (s.test or []))
        unknown = named - set(speakers)
        if unknown:
            raise InvalidInputError(f"split names speakers not in the data: {sorted(unknown)}")
        train = s.train or [x for x in speakers if x not in named]
        return Split(tuple(sorted(train)), tuple(sorted(s.val or [])), tuple(sorted(s.test or [])))
    return split_speakers(speakers, n_val=s.val_speakers, n_test=s.test_speakers, seed=s.seed, n_train=s.train_speakers)


def train(cfg: TrainConfig, dataset: Dataset, out: str | Path, *, split: Split | None = None, resume: bool = False, progress: bool = True) -> dict[str, Any]:
    """Train on `dataset` per `cfg` into `out`. Returns the final summary (best val EER etc.).

    With train.ensemble = M > 1, M members train alike from seeds seed .. seed+M-1 into
    out/member0 .. and out/model.pt is their ensemble (lipauth.models.ensemble)."""
    out = Path(out)
    rank, world = _init_distributed()
    split = split or resolve_split(cfg, dataset.speakers)
    n_members = cfg.train.ensemble
    if n_members == 1:
        summary = _train_one(cfg, dataset, out, split, resume, progress, rank, world)
    else:
        if rank == 0 and not resume:
            out.mkdir(parents=True, exist_ok=True)
            _write_run_files(out, cfg, split, dataset, metrics_log=False)  # each member logs its own epochs
        members = train_members(cfg.seed, n_members, lambda i, seed: _train_one(cfg.with_seed(seed), dataset, out / f"member{i}", split, resume, progress, rank, world))
        summary = _combine_members(cfg, dataset, out, split, members) if rank == 0 else {}
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return summary


def _combine_members(cfg: TrainConfig, dataset: Dataset, out: Path, split: Split, summaries: list[dict]) -> dict[str, Any]:
    """out/model.pt (and validated_model.pt after a refit): the members' ensemble, with
    thresholds calibrated for the ensemble's own (averaged) scores as one member's are."""
    folders = [out / f"member{i}" for i in range(len(summaries))]
    refit = all("refit" in s for s in summaries)
    summary = {
        "ensemble": {"members": [str(f.name) for f in folders], "seeds": member_seeds(cfg.seed, len(folders)), "best_epochs": [s["best_epoch"] for s in summaries]},
        "best_val_eer": float(np.mean([s["best_val_eer"] for s in summaries])),  # the members' mean
        "calibrated_on": summaries[0]["calibrated_on"],
        "split": split.to_dict(),
    }
    calib_clips = dataset.of_speakers(split.val) or dataset.of_speakers(split.train)
    # thresholds come from the models that had not seen the calibration speakers
    calib_model = ensemble_of([LipEmbedder.load(f / ("validated_model.pt" if refit else "model.pt")) for f in folders])
    calib_emb = calib_model.embed_clips(calib_clips)
    calibrated = _calibration(calib_emb, calib_clips, cfg.train.verify_scoring)
    if split.val:
        trials = make_trials([c.meta for c in calib_clips], "text_independent")
        summary["ensemble"]["val_eer"] = eer(trials.scores(calib_emb), trials.genuine)[0]
    final = calib_model
    if refit:
        _save(calib_model, out / "validated_model.pt", calibrated, summary, cfg.seed)
        final = ensemble_of([LipEmbedder.load(f / "model.pt") for f in folders])
        summary["refit"] = {"epochs": [s["refit"]["epochs"] for s in summaries], "speakers": summaries[0]["refit"]["speakers"], "thresholds_from": "validated_model.pt"}
    _save(final, out / "model.pt", calibrated, summary, cfg.seed)
    return summary


def _calibration(emb: np.ndarray, clips: list[LipClip], verify_scoring: str) -> tuple[dict, dict, dict]:
    """(thresholds, llr calibration, verify thresholds) from `clips`' embeddings `emb`."""
    thresholds, calibration = calibrate(emb, clips)
    verify_thresholds = calibrate_verification(emb, clips)
    if verify_thresholds:
        verify_thresholds["scoring"] = verify_scoring
    return thresholds, calibration, verify_thresholds


def _save(embedder: LipEmbedder, path: Path, calibrated: tuple[dict, dict, dict], summary: dict, seed: int) -> None:
    """Write a model file with its calibration and provenance."""
    embedder.thresholds, embedder.calibration, embedder.verify_thresholds = calibrated
    embedder.info = {**summary, "lipauth_version": __version__, "git_commit": git_commit(), "seed": seed}
    embedder.save(path)


def _train_one(cfg: TrainConfig, dataset: Dataset, out: Path, split: Split, resume: bool, progress: bool, rank: int, world: int) -> dict[str, Any]:
    """One network: train, choose the epoch on validation, refit if asked, calibrate, save."""
    seed = cfg.seed
    torch.manual_seed(seed + rank)
    train_clips = dataset.of_speakers(split.train)
    val_clips = dataset.of_speakers(split.val)
    if len({c.meta.speaker for c in train_clips}) < 2:
        raise InvalidInputError(f"training needs clips of at least 2 speakers, got {split.train}")

    crop = CropSpec(**cfg.data.crop)
    model_cfg = cfg.model.settings
    model_cfg.setdefault("width", crop.width)
    model_cfg.setdefault("height", crop.height)
    model_cfg.setdefault("channels", 3 if crop.color == "rgb" else 1)
    if train_clips[0].landmarks is not None:
        model_cfg.setdefault("n_landmarks", int(train_clips[0].landmarks.shape[1]))
    model = create_model(cfg.model.name, **model_cfg)
    uses_landmarks = bool(getattr(model, "uses_landmarks", False))
    if uses_landmarks and train_clips[0].landmarks is None:
        raise InvalidInputError("this model uses landmarks, but the clips have none (AVLetters ships crops only); set use_landmarks: false")
    uses_audio = bool(getattr(model, "uses_audio", False))
    if uses_audio and not has_audio(train_clips[0]):
        raise InvalidInputError("this model has a voice branch, but the clips carry no audio")

    tcfg = cfg.train
    fit = _Epochs(cfg, model, train_clips, rank, world)
    checkpoint = Checkpoint(fit, out / "checkpoint.pt")
    start_epoch, state = 0, LoopState()
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
    if resume and checkpoint.path.exists():
        start_epoch, state = checkpoint.restore()
    elif rank == 0:
        _write_run_files(out, cfg, split, dataset)

    rng = np.random.default_rng([seed, rank, start_epoch])
    validate = (lambda: _val_eer(model, val_clips, crop, cfg, train_clips)) if val_clips else None
    with _progress(progress and rank == 0) as bar:
        task = bar.add_task("train", total=tcfg.epochs - start_epoch, info="")
        hooks = [KeepBest(model, out / "best_weights.pt"), EarlyStopping(tcfg.patience, enabled=bool(val_clips)), MetricsLog(out / "metrics.jsonl"), checkpoint, ProgressLine(bar, task)]
        state = run_epochs(fit, range(start_epoch, tcfg.epochs), rng, hooks, state, validate=validate, rank=rank, world=world)
    best = state.best

    summary: dict[str, Any] = {}
    if rank == 0:
        model.load_state_dict(torch.load(out / "best_weights.pt", map_location="cpu", weights_only=True))
    refit = bool(tcfg.refit and val_clips)
    if refit:
        # The validation speakers chose the epoch; now they join the training speakers, and the
        # same recipe trains again from the same seed for that many epochs. On AVLetters two
        # more training speakers nearly halved the EER on unseen ones (docs/results.md).
        n_epochs = int(broadcast(best["epoch"] + 1 if rank == 0 else 0, world))
        torch.manual_seed(seed + rank)
        refit_model = create_model(cfg.model.name, **model_cfg)
        refit_fit = _Epochs(cfg, refit_model, train_clips + val_clips, rank, world)
        refit_rng = np.random.default_rng([seed, rank, 10_000])
        log = MetricsLog(out / "metrics.jsonl")
        with _progress(progress and rank == 0) as bar:
            task = bar.add_task("train", total=n_epochs, info="refit on training + validation speakers")
            for epoch in range(n_epochs):
                t0 = time.perf_counter()
                record = {**refit_fit.epoch(epoch, refit_rng), "phase": "refit"}
                if rank == 0:
                    record["seconds"] = round(time.perf_counter() - t0, 2)
                    log.after_epoch(record, state)
                    bar.update(task, advance=1)
    if rank == 0:
        embedder = _embedder(model, cfg, model_cfg, crop)
        embedder.backend_scoring = fit_backend(cfg.backend, embedder, train_clips)
        calib_clips, calibrated_on = (val_clips, "validation speakers") if val_clips else (train_clips, "training speakers (no validation split)")
        calibrated = _calibration(embedder.embed_clips(calib_clips), calib_clips, tcfg.verify_scoring)
        summary = {"best_epoch": best["epoch"], "best_val_eer": best["val_eer"], "epochs_run": len(state.history), "calibrated_on": calibrated_on, "split": split.to_dict()}
        if refit:
            # The validated model is kept beside the final one. The final model keeps its
            # thresholds: the validation speakers are training speakers now, and their scores
            # would place a threshold too optimistically (docs/results.md measures the transfer).
            _save(embedder, out / "validated_model.pt", calibrated, summary, seed)
            embedder = _embedder(refit_model, cfg, model_cfg, crop)
            embedder.backend_scoring = fit_backend(cfg.backend, embedder, train_clips + val_clips)
            summary["refit"] = {"epochs": n_epochs, "speakers": sorted(split.train + split.val), "thresholds_from": "validated_model.pt"}
        _save(embedder, out / "model.pt", calibrated, summary, seed)
    return summary


class _Epochs:
    """One model's optimisation: its optimiser, schedule, loss and the clips it learns from.
    `epoch()` trains one pass (on every rank under DDP) and returns its log record."""

    def __init__(self, cfg: TrainConfig, model: torch.nn.Module, clips: list[LipClip], rank: int, world: int) -> None:
        tcfg = self.tcfg = cfg.train
        self.model, self.clips, self.rank, self.world, self.seed = model, clips, rank, world, cfg.seed
        self.opt = torch.optim.AdamW(model.parameters(), lr=tcfg.lr, weight_decay=tcfg.weight_decay)
        self.sched = torch.optim.lr_scheduler.CosineAnnealingLR(self.opt, T_max=max(1, tcfg.epochs))
        self.loss_fn = make_loss(tcfg.loss)
        self.miner = make_miner(tcfg.miner, tcfg.loss.get("distance", "cosine"), tcfg.loss.get("margin", 0.2))
        self.aug = AugmentSpec.from_dict(cfg.augment)
        self.length = cfg.data.length
        self.normalize = cfg.data.normalize
        if self.normalize not in NORMALIZE:
            raise InvalidInputError(f"data.normalize must be one of {NORMALIZE}, got {self.normalize!r}")
        self.uses_landmarks = bool(getattr(model, "uses_landmarks", False))
        self.uses_audio = bool(getattr(model, "uses_audio", False))
        self.ddp_model = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
        self.labels = [_label(c, tcfg.labels) for c in clips]
        label_ids = {lab: i for i, lab in enumerate(sorted(set(self.labels), key=str))}
        self.y_all = torch.tensor([label_ids[lab] for lab in self.labels])

    def epoch(self, epoch: int, rng: np.random.Generator) -> dict[str, Any]:
        tcfg, aug = self.tcfg, self.aug
        self.model.train()
        losses = []
        for idx in _batches(tcfg, self.clips, self.labels, self.seed + 1000 * epoch, self.rank, self.world):
            clips = [augment(self.clips[i], aug, rng) if aug else self.clips[i] for i in idx]
            batch = to_batch(clips, length=self.length, rng=rng, landmarks=self.uses_landmarks, normalize=self.normalize, audio=self.uses_audio)
            emb = self.ddp_model(batch)
            if tcfg.sampling == "triplets":
                n = len(idx) // 3
                r = torch.arange(n)
                # every third clip is anchor/positive/negative; labels only name the triplet roles
                loss = self.loss_fn(emb, torch.arange(len(idx)), indices_tuple=(3 * r, 3 * r + 1, 3 * r + 2))
            else:
                y = self.y_all[idx]
                loss = self.loss_fn(emb, y, self.miner(emb, y) if self.miner else None)
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
            losses.append(loss.item())
        self.sched.step()
        return {"epoch": epoch, "loss": float(np.mean(losses)) if losses else float("nan"), "lr": self.sched.get_last_lr()[0]}

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "opt": self.opt.state_dict(), "sched": self.sched.state_dict()}

    def load_state_dict(self, ck: dict[str, Any]) -> None:
        self.model.load_state_dict(ck["model"])
        self.opt.load_state_dict(ck["opt"])
        self.sched.load_state_dict(ck["sched"])


def _embedder(model, cfg: TrainConfig, model_cfg: dict, crop: CropSpec) -> LipEmbedder:
    return LipEmbedder(model=model, model_name=cfg.model.name, model_config=model_cfg, crop=crop, backend=cfg.data.backend, normalize=cfg.data.normalize)


def fit_backend(spec: dict | None, embedder: LipEmbedder, train_clips: list[LipClip]) -> Whitening | None:
    """The scoring backend, fitted on the training speakers' clips (never validation/test)."""
    if not spec:
        return None
    if spec.get("type") != "whitening":
        raise InvalidInputError(f"unknown backend {spec.get('type')!r}; use whitening or null")
    return Whitening.fit(embedder.network_embeddings(train_clips), n_components=spec.get("n_components", 64))


def _val_eer(model, clips: list[LipClip], crop: CropSpec, cfg: TrainConfig, train_clips: list[LipClip]) -> float:
    embedder = LipEmbedder(model=model, model_name="", model_config={}, crop=crop, normalize=cfg.data.normalize)
    embedder.backend_scoring = fit_backend(cfg.backend, embedder, train_clips)
    emb = embedder.embed_clips(clips)
    trials = make_trials([c.meta for c in clips], "text_independent")
    return eer(trials.scores(emb), trials.genuine)[0]


def _batches(tcfg: TrainSpec, clips: list[LipClip], labels: list, seed: int, rank: int, world: int):
    if tcfg.sampling == "pk":
        sampler = PKSampler(labels, tcfg.P, tcfg.K, seed, rank, world)
        n = tcfg.batches_per_epoch or len(sampler)
        for i, batch in enumerate(sampler):
            if i >= n:
                break
            yield batch
        return
    if tcfg.sampling == "triplets":
        per_batch = tcfg.P * tcfg.K // 3
        n = tcfg.batches_per_epoch or max(1, len(clips) // (3 * per_batch) // world)
        trip = challenging_triplets([c.meta for c in clips], n * per_batch, text_dependent=tcfg.text_dependent_triplets, seed=seed * 7 + rank)
        for i in range(n):
            yield trip[i * per_batch : (i + 1) * per_batch].reshape(-1).tolist()
        return
    raise InvalidInputError(f"unknown sampling {tcfg.sampling!r}; choose pk or triplets")


def _label(clip: LipClip, kind: str):
    if kind == "speaker":
        return clip.meta.speaker
    if kind == "speaker_phrase":
        return (clip.meta.speaker, clip.meta.phrase)
    if kind == "clip":  # instance discrimination: two augmented views of a clip are positives
        return clip.meta.clip_id
    raise InvalidInputError(f"unknown labels {kind!r}; choose speaker, speaker_phrase or clip")


def _init_distributed() -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("gloo")
    return (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)


def _write_run_files(out: Path, cfg: TrainConfig, split: Split, dataset: Dataset, metrics_log: bool = True) -> None:
    (out / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    if metrics_log:
        (out / "metrics.jsonl").write_text("")
    run = {
        "lipauth_version": __version__,
        "git_commit": git_commit(),
        "seed": cfg.seed,
        "command": sys.argv,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "split": split.to_dict(),
        "n_clips": len(dataset.clips),
        "failures_to_acquire": len(dataset.failures),
    }
    (out / "run.json").write_text(json.dumps(run, indent=2))


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _progress(enabled: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"), TimeElapsedColumn(), disable=not enabled)
