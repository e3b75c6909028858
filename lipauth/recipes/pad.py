"""The recipes that make the bundled presentation-attack models, run by `lipauth train
--config configs/avsync.yaml`, `configs/texture.yaml` and `configs/liveness.yaml`. Which recordings train, validate
and test is in the YAML (sources and their roles by person or clip), not in the code.

AV synchrony: train on the `train` clips; the best epoch on the `val` clips; the operating
point from the validation clips of the video sources (`threshold_from`); every set reported
in-sync vs shifted and swapped audio. Face liveness: face crops of every video with
simulated print and replay attacks, one client per person; the thresholds from folds that
hold out the `held_out` clients in turn; the bundled model then trains on every client.
Face texture: NUAA's official train list, its settings by leave-one-person-out, scored on
the official test list.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from rich.progress import Progress

from lipauth.clip import CropSpec, LipClip
from lipauth.corpora.cache import load_clip
from lipauth.corpora.dataset import load_dataset
from lipauth.corpora.preprocess import preprocess_corpus, read_manifest
from lipauth.recipes import RECIPES
from lipauth.errors import EmptyCorpusError, InvalidInputError
from lipauth.measure.metrics import eer
from lipauth.measure.pad_metrics import apcer_bpcer, bpcer_at_apcer
from lipauth.pad.avsync import SyncConfig
from lipauth.training.face_data import face_samples_from_video
from lipauth.training.liveness import LivenessTrainConfig, train_liveness_ensemble
from lipauth.training.sync import SyncTrainConfig, evaluate_sync, train_sync_ensemble
from lipauth.video.pipeline import LipPipeline, PipelineConfig

Role = Literal["train", "val", "test", "none"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt setting is an error, not ignored


class Source(_Strict):
    """A folder of recordings under --data and the role of each of its clips: `by_clip`
    (clip id) first, then `by_speaker`, else `role`."""

    corpus: str
    path: str
    role: Role = "none"
    by_speaker: dict[str, Role] = Field(default_factory=dict)
    by_clip: dict[str, Role] = Field(default_factory=dict)
    speaker: str | None = None  # the person on every clip (GRID folders do not name one)
    speaker_of: dict[str, str] = Field(default_factory=dict)  # clip id -> person, where known

    def role_of(self, clip: LipClip) -> str:
        return self.by_clip.get(clip.meta.clip_id) or self.by_speaker.get(str(clip.meta.speaker)) or self.role


class SyncRecipe(_Strict):
    kind: Literal["av_sync"]
    seed: int = 0
    crop: dict = Field(default_factory=lambda: {"width": 30, "height": 18})
    network: dict = Field(default_factory=dict)  # lipauth.pad.avsync.SyncConfig
    train: dict = Field(default_factory=dict)  # lipauth.training.sync.SyncTrainConfig, and ensemble (lipauth.training.ensemble)
    sources: dict[str, Source]
    threshold_from: list[str]  # sources whose validation clips set the operating point


class VideoSet(_Strict):
    glob: str  # under --data
    client: str  # the person; "{stem}" is the file's stem


class LivenessRecipe(_Strict):
    kind: Literal["face_liveness"]
    seed: int = 0
    train: dict = Field(default_factory=dict)  # lipauth.training.liveness.LivenessTrainConfig, and ensemble (lipauth.training.ensemble)
    crops_per_video: int = 16
    videos: list[VideoSet]
    same_person: dict[str, list[str]] = Field(default_factory=dict)  # client -> file stems of that person
    held_out: str  # clients whose names start with this are held out in turn (2 folds)


class TextureRecipe(_Strict):
    kind: Literal["face_texture"]
    nuaa: str = "nuaa"  # the NUAA folder under --data (its official lists)
    variant: Literal["normalized"] = "normalized"  # the eye-aligned 64x64 faces the lists name
    c_grid: list[float] = Field(default_factory=lambda: [0.01, 0.1, 1.0, 10.0, 100.0])
    gamma_grid: list[float] = Field(default_factory=lambda: [0.03, 0.1, 0.3, 1.0, 3.0, 10.0])
    jobs: int = 2  # cross-validation folds fitted side by side


def _typed(cls, values: dict, where: str, **fixed):
    try:
        return cls(**{**values, **fixed})
    except TypeError as exc:
        raise InvalidInputError(f"{where}: {exc}") from None


def _ensemble_and(cls, train: dict, where: str, **fixed):
    """(members, the training config): `ensemble` is the one key every recipe's train block
    shares (lipauth.training.ensemble); the rest configure one network."""
    rest = dict(train)
    members = rest.pop("ensemble", 1)
    if not isinstance(members, int) or members < 1:
        raise InvalidInputError(f"{where}: ensemble must be a whole number >= 1, got {members!r}")
    return members, _typed(cls, rest, where, **fixed)


def parse(cls, raw: dict, where: str):
    from pydantic import ValidationError

    try:
        return cls.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InvalidInputError(f"{where}: {'.'.join(map(str, first['loc']))}: {first['msg']}") from None


# -- AV synchrony ------------------------------------------------------------------------------
def source_clips(data: Path, out: Path, name: str, src: Source, crop: CropSpec) -> list[LipClip]:
    """A source's clips with their persons: lip crops loaded as they are, videos through the
    pipeline into out/clips/NAME (resumable)."""
    folder = data / src.path
    if not folder.exists():
        raise InvalidInputError(f"{folder}: no such folder (source {name!r})")
    if src.corpus == "avletters":
        clips = load_dataset(folder, src.corpus, crop).clips
    else:
        cache = out / "clips" / name
        with Progress(transient=True) as bar:
            task = bar.add_task(f"preprocess {name}", total=None)
            preprocess_corpus(folder, cache, src.corpus, PipelineConfig(crop=crop), workers=2, on_progress=lambda done, total, row: bar.update(task, completed=done, total=total))
        rows = read_manifest(cache / "manifest.csv")
        clips = [load_clip(cache / r["file"]) for r in rows.values() if r["status"] == "done"]
    named = [(c, src.speaker_of.get(c.meta.clip_id) or src.speaker) for c in clips]
    return [c.with_meta(speaker=person) if person else c for c, person in named]


@RECIPES.register("av_sync")
def run_av_sync(raw: dict, data: Path, out: Path, where: str = "recipe") -> dict:
    r = parse(SyncRecipe, raw, where)
    crop = _typed(CropSpec, r.crop, f"{where}: crop")
    net_cfg = _typed(SyncConfig, r.network, f"{where}: network")
    members, train_cfg = _ensemble_and(SyncTrainConfig, r.train, f"{where}: train", seed=r.seed)
    unknown = set(r.threshold_from) - set(r.sources)
    if unknown:
        raise InvalidInputError(f"{where}: threshold_from names no source {sorted(unknown)}")
    by_role: dict[str, dict[str, list[LipClip]]] = {"train": {}, "val": {}, "test": {}}
    for name, src in r.sources.items():
        for c in source_clips(data, out, name, src, crop):
            role = src.role_of(c)
            if role != "none":
                by_role[role].setdefault(name, []).append(c)
    train = [c for clips in by_role["train"].values() for c in clips]
    val = [c for clips in by_role["val"].values() for c in clips]
    if not train:
        raise EmptyCorpusError(f"{where}: no clip has the role train")
    model, info = train_sync_ensemble(train, val, net_cfg, train_cfg, members=members)
    # verify sees ~3 s face videos, where genuine sync scores run higher than on AVLetters'
    # ~1 s letters (docs/pad.md): the operating point comes from the videos
    video_val = [c for name in r.sources if name in r.threshold_from for c in by_role["val"].get(name, [])]
    model.threshold = evaluate_sync(model, video_val)["threshold"]
    sets = {f"validation ({', '.join(by_role['val'])})": val, f"validation videos ({', '.join(n for n in r.sources if n in r.threshold_from and n in by_role['val'])})": video_val}
    sets |= {f"{name} test ({len(clips)} clips, unseen speakers)": clips for name, clips in by_role["test"].items()}
    report = {"train": {k: info[k] for k in ("n_train_clips", "n_val_clips", "seconds", "history")}}
    rows = []
    for name, clips in sets.items():
        e = evaluate_sync(model, clips)
        e.pop("scores")
        report[name] = e
        per = e["per_attack"]
        rows.append(
            f"| {name} | {e['n_in_sync']} / {e['n_out_of_sync']} | {100 * e['eer']:.1f} | {e['auc']:.3f} | {e['ap']:.3f} | "
            + " | ".join(f"{100 * per[k]['eer']:.1f} ({100 * per[k]['accepted_at_threshold']:.0f})" for k in ("shift_0.2s", "shift_0.5s", "swapped"))
            + f" | {100 * e['in_sync_rejected_at_threshold']:.0f} | {100 * e['in_sync_offset_within_1']:.0f} |"
        )
    model.info["evaluation"] = {k: v for k, v in report.items() if k != "train"}
    header = "| set | in-sync / out-of-sync | EER (%) | AUC | AP | shift 0.2 s: EER (% accepted) | shift 0.5 s | swapped audio | in-sync rejected at threshold (%) | in-sync best offset within 1 frame (%) |"
    footer = f"Threshold {model.threshold:.3f} (sync score), chosen at the EER of the validation videos (the middle of the gap where they separate). Training: {info['n_train_clips']} clips, {len(model.nets)} network(s), {info['seconds']:.0f} s."
    return _save(model, "avsync", raw, out, report, header, rows, footer)


# -- face liveness -----------------------------------------------------------------------------
def client_videos(data: Path, r: LivenessRecipe) -> list[tuple[Path, str]]:
    """Every video with its client: a `same_person` entry first, else its set's client."""
    person = {stem: client for client, stems in r.same_person.items() for stem in stems}
    found = []
    for vs in r.videos:
        paths = sorted(data.glob(vs.glob))
        if not paths:
            raise InvalidInputError(f"{data / vs.glob}: no videos")
        found += [(p, person.get(p.stem) or vs.client.format(stem=p.stem)) for p in paths]
    return found


@RECIPES.register("face_liveness")
def run_face_liveness(raw: dict, data: Path, out: Path, where: str = "recipe") -> dict:
    r = parse(LivenessRecipe, raw, where)
    members, train_cfg = _ensemble_and(LivenessTrainConfig, r.train, f"{where}: train", seed=r.seed)
    pipe = LipPipeline(PipelineConfig(crop=CropSpec(30, 18)))
    rng = np.random.default_rng(r.seed)
    samples, videos = [], client_videos(data, r)
    with Progress(transient=True) as bar:
        for path, client in bar.track(videos, description="face crops and simulated attacks"):
            samples += face_samples_from_video(path, client, pipe, rng, n_crops=r.crops_per_video)
    fold_clients = sorted({s.client for s in samples if s.client.startswith(r.held_out)})
    if len(fold_clients) < 2:
        raise EmptyCorpusError(f"{where}: held_out {r.held_out!r} matches {len(fold_clients)} client(s); the folds need 2")
    per_client, generic = [], []
    for test in (fold_clients[0::2], fold_clients[1::2]):
        model, _ = train_liveness_ensemble([s for s in samples if s.client not in test], train_cfg, members=members, progress=False)
        for s in samples:
            if s.client not in test:
                continue
            enrolled = next(x for x in samples if x.client == s.client and x.bona_fide)
            refs = model.embed(enrolled.crops[0::2])  # even frames enrol, odd frames probe
            kind = s.attack or "bona_fide"
            per_client.append((model.score(s.crops[1::2], refs), s.bona_fide, kind))
            generic.append((model.score(s.crops[1::2]), s.bona_fide, kind))
    report, thresholds, rows = {}, {}, []
    for name, trials in (("per client (enrolled real crops)", per_client), ("generic (model's bona fide reference)", generic)):
        sc, bf, sp = (np.array([t[i] for t in trials]) for i in range(3))
        e, thr = eer(sc, bf)
        at = apcer_bpcer(sc, bf, sp, thr)
        b5, t5 = bpcer_at_apcer(sc, bf, sp, 0.05)
        b1, _ = bpcer_at_apcer(sc, bf, sp, 0.01)
        key = "" if name.startswith("per client") else "generic_"
        thresholds[f"{key}eer"], thresholds[f"{key}apcer_5pct"] = float(thr), float(t5)
        # the operating point lipauth uses: midway between the lowest bona fide and the
        # highest attack score of the held-out folds (the EER threshold sits at one edge of
        # the gap when the two do not overlap, which a new camera would fall off)
        thresholds[f"{key}midpoint"] = float((sc[bf].min() + sc[~bf].max()) / 2)
        report[name] = {"eer": e, "threshold": thr, "min_bona_fide": float(sc[bf].min()), "max_attack": float(sc[~bf].max()), **at, "bpcer_at_apcer_5pct": b5, "bpcer_at_apcer_1pct": b1, "n_bona_fide": int(bf.sum()), "n_attack": int((~bf).sum())}
        rows.append(
            f"| {name} | {int(bf.sum())} / {int((~bf).sum())} | {100 * e:.1f} | {100 * at['apcer']['print']:.1f} | {100 * at['apcer']['replay']:.1f} | {100 * at['bpcer']:.1f} | {100 * b5:.1f} | {100 * b1:.1f} |"
        )
    t = time.time()
    model, info = train_liveness_ensemble(samples, train_cfg, members=members)
    model.thresholds = thresholds
    model.info["evaluation"] = report
    header = "| comparison | bona fide / attack presentations | EER (%) | APCER print (%) | APCER replay (%) | BPCER (%) | BPCER @ APCER 5 % | BPCER @ APCER 1 % |"
    footer = (
        f"APCER and BPCER at the EER threshold of each comparison; 2 folds by client over {len(fold_clients)} {r.held_out} clients. "
        + " ".join(f"{n}: bona fide scores >= {v['min_bona_fide']:.3f}, attack scores <= {v['max_attack']:.3f}." for n, v in report.items())
        + f" The bundled model is then trained on all {len(info['clients'])} clients ({time.time() - t:.0f} s)."
    )
    return _save(model, "liveness", raw, out, report, header, rows, footer)


@RECIPES.register("face_texture")
def run_face_texture(raw: dict, data: Path, out: Path, where: str = "recipe") -> dict:
    """The texture check's model (lipauth.pad.texture) from NUAA's official train list, C and
    gamma by leave-one-person-out, the threshold at those out-of-fold scores' EER point; the
    official test list (later sessions; 7 of its 16 people are not in the train list) is then
    scored at it."""
    from lipauth.corpora.nuaa import read_nuaa
    from lipauth.eval.plots import histogram_plot
    from lipauth.pad.texture import fit, lbp_features

    r = parse(TextureRecipe, raw, where)
    t = time.time()
    train, _ = read_nuaa(data / r.nuaa, "train", variant=r.variant)
    test, _ = read_nuaa(data / r.nuaa, "test", variant=r.variant)
    faces = lambda ss: lbp_features(np.concatenate([s.crops for s in ss]))  # noqa: E731
    model = fit(faces(train), np.array([s.bona_fide for s in train]), np.array([s.client for s in train]), c_grid=tuple(r.c_grid), gamma_grid=tuple(r.gamma_grid), n_jobs=r.jobs)
    scores, bona = model.decision(faces(test)), np.array([s.bona_fide for s in test])
    test_eer, _ = eer(scores, bona)
    at = apcer_bpcer(scores, bona, np.array(["print" if not b else "bona_fide" for b in bona]), model.threshold)
    accuracy = float(np.mean((scores >= model.threshold) == bona))
    report = {
        "test": {"eer": test_eer, "apcer": at["apcer_max"], "bpcer": at["bpcer"], "acer": (at["apcer_max"] + at["bpcer"]) / 2, "accuracy": accuracy, "n_bona_fide": int(bona.sum()), "n_attack": int((~bona).sum()), "n_people": len({s.client for s in test})},
        "selection": dict(model.info),
    }
    model.info["evaluation"] = report
    out.mkdir(parents=True, exist_ok=True)
    histogram_plot(scores, bona, out / "texture-test-scores.png", "Face texture on NUAA's official test list", model.threshold, xlabel="SVM decision value", label="threshold (train out-of-fold EER)", names=("photo", "live face"))
    header = "| NUAA official test list | bona fide / attack images | EER (%) | APCER (%) | BPCER (%) | ACER (%) | accuracy (%) |"
    e = report["test"]
    rows = [f"| at the out-of-fold threshold {model.threshold:.3f} | {e['n_bona_fide']} / {e['n_attack']} | {100 * e['eer']:.1f} | {100 * e['apcer']:.1f} | {100 * e['bpcer']:.1f} | {100 * e['acer']:.1f} | {100 * accuracy:.1f} |"]
    footer = (
        f"C {model.info['C']:g}, gamma {model.info['gamma']:g} by leave-one-person-out over {model.info['n_people']} train people (out-of-fold AUC {model.info['cv_auc']:.3f}, "
        f"EER {100 * model.info['oof_eer']:.1f} %); {time.time() - t:.0f} s. The test scores' histogram: {out / 'texture-test-scores.png'}."
    )
    return _save(model, "texture", raw, out, report, header, rows, footer)


def _save(model, name: str, raw: dict, out: Path, report: dict, header: str, rows: list[str], footer: str) -> dict:
    """OUT/NAME.pt (with the recipe that made it), OUT/NAME.json (the report and its table)."""
    model.info["recipe"] = raw
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / f"{name}.pt")
    report["table"] = "\n".join([header, "|" + "---|" * header.count(" | ") + "---|", *rows, "", footer])
    (out / f"{name}.json").write_text(json.dumps(report, indent=2, default=float))
    return {"model": out / f"{name}.pt", "report": report}
