"""k-fold cross-validation by speaker: every speaker is tested once and never trained on.

Per fold: train on the fold's training speakers (fixed epochs when it has no validation
speakers), evaluate on its test speakers. Scores of all folds are then pooled for one EER
with a bootstrap CI over all speakers, beside the per-fold figures.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from lipauth.corpora.dataset import Dataset
from lipauth.protocol import TRIAL_KINDS, kfold_speakers, leave_out_speakers, make_trials
from lipauth.errors import InvalidInputError
from lipauth.eval.evaluate import evaluate_clips
from lipauth.eval.pooled import pooled_metrics
from lipauth.models.embedder import LipEmbedder
from lipauth.scoring.calibration import calibrate
from lipauth.training.trainer import train
from lipauth.clip import CropSpec


def fit(cfg: dict, dataset: Dataset, out: Path, split, progress: bool):
    """Train (or, for the PCA baseline, fit) a model on the split's training speakers."""
    if cfg["model"]["name"] == "pca_baseline":
        from lipauth.models.baseline import PCABaseline

        model = PCABaseline(CropSpec(**cfg["data"]["crop"]), n_components=cfg["model"].get("n_components", 64), whiten=cfg["model"].get("whiten", True), normalize=cfg["data"]["normalize"])
        train_clips = dataset.of_speakers(split.train)
        model.fit(train_clips)
        calib_clips = dataset.of_speakers(split.val) or train_clips
        model.thresholds, model.calibration = calibrate(model.embed_clips(calib_clips), calib_clips)
        return model
    train(cfg, dataset, out, split=split, progress=progress)
    return LipEmbedder.load(out / "model.pt")


def crossval(cfg: dict, dataset: Dataset, out: str | Path, *, folds: int, n_val: int = 0, seed: int = 0, progress: bool = True, leave_out: int = 0) -> dict[str, Any]:
    """k folds by speaker, or with `leave_out` = p every group of p speakers tested once."""
    out = Path(out)
    if leave_out:
        splits = leave_out_speakers(dataset.speakers, p=leave_out, seed=seed, n_val=n_val)
        folds = len(splits)
    else:
        splits = kfold_speakers(dataset.speakers, k=folds, seed=seed, n_val=n_val)
    pooled: dict[str, list] = {k: [] for k in TRIAL_KINDS}
    per_fold = []
    for i, split in enumerate(splits):
        fold_dir = out / f"fold{i}"
        model = fit(cfg, dataset, fold_dir, split, progress)
        test = dataset.of_speakers(split.test)
        emb = model.embed_clips(test)
        m = evaluate_clips(model, test, fold_dir / "eval", n_boot=0, title=f"{cfg['model']['name']} fold {i}", embeddings=emb)
        per_fold.append({"test_speakers": list(split.test), **{k: v for k, v in m.items() if k.startswith(("eer_", "n_"))}})
        metas = [c.meta for c in test]
        for kind in TRIAL_KINDS:
            t = make_trials(metas, kind)
            if t.n_genuine and t.n_impostor:
                spk = [m.speaker for m in metas]
                pooled[kind].append((t.scores(emb), t.genuine, [spk[j] for j in t.a], [spk[j] for j in t.b]))
    result: dict[str, Any] = {"folds": per_fold, "model": cfg["model"]["name"], "n_folds": folds, "leave_out": leave_out, "speakers": dataset.speakers}
    trials: dict[str, np.ndarray] = {}
    for kind, parts in pooled.items():
        if not parts:
            continue
        s = np.concatenate([p[0] for p in parts])
        g = np.concatenate([p[1] for p in parts])
        a = sum((p[2] for p in parts), [])
        b = sum((p[3] for p in parts), [])
        result.update(pooled_metrics(kind, s, g, a, b, seed))
        result[f"eer_fold_mean_{kind}"] = float(np.mean([f[f"eer_{kind}"] for f in per_fold if f"eer_{kind}" in f]))
        trials.update({f"{kind}/scores": s, f"{kind}/genuine": g, f"{kind}/speaker_a": np.array(a), f"{kind}/speaker_b": np.array(b)})
    if "eer_text_independent" not in result:
        raise InvalidInputError("cross-validation produced no text-independent trials")
    out.mkdir(parents=True, exist_ok=True)
    (out / "crossval.json").write_text(json.dumps(result, indent=2))
    np.savez_compressed(out / "pooled_trials.npz", **trials)  # the same trials in the same order for every model: late fusion adds them
    return result
