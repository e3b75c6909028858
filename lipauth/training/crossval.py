"""k-fold cross-validation by speaker: every speaker is tested once and never trained on.

Per fold: train on the fold's training speakers (fixed epochs when it has no validation
speakers), evaluate on its test speakers. Scores of all folds are then pooled for one EER
with a bootstrap CI over all speakers, beside the per-fold figures.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from lipauth.corpora.dataset import Dataset
from lipauth.protocol import TRIAL_KINDS, kfold_speakers, leave_out_speakers
from lipauth.errors import InvalidInputError
from lipauth.eval.evaluate import evaluate_clips
from lipauth.eval.results import CrossValidation, Fold, TrialResult
from lipauth.eval.scores import SCORE_FILES, ScoreList
from lipauth.models.embedder import LipEmbedder
from lipauth.scoring.calibration import calibrate
from lipauth.training.config import TrainConfig
from lipauth.training.trainer import train
from lipauth.clip import CropSpec


def fit(cfg: TrainConfig, dataset: Dataset, out: Path, split, progress: bool):
    """Train (or, for the PCA baseline, fit) a model on the split's training speakers."""
    if cfg.model.name == "pca_baseline":
        from lipauth.models.baseline import PCABaseline

        settings = cfg.model.settings
        model = PCABaseline(CropSpec(**cfg.data.crop), n_components=settings.get("n_components", 64), whiten=settings.get("whiten", True), normalize=cfg.data.normalize)
        train_clips = dataset.of_speakers(split.train)
        model.fit(train_clips)
        calib_clips = dataset.of_speakers(split.val) or train_clips
        model.thresholds, model.calibration = calibrate(model.embed_clips(calib_clips), calib_clips)
        return model
    train(cfg, dataset, out, split=split, progress=progress)
    return LipEmbedder.load(out / "model.pt")


def crossval(cfg: TrainConfig, dataset: Dataset, out: str | Path, *, folds: int, n_val: int = 0, seed: int = 0, progress: bool = True, leave_out: int = 0) -> CrossValidation:
    """k folds by speaker, or with `leave_out` = p every group of p speakers tested once.
    Each fold's evaluation writes its score files; the pooled figures are computed from those
    files read back, and the pooled trials are written as score files of their own in `out`
    (what late fusion reads)."""
    out = Path(out)
    if leave_out:
        splits = leave_out_speakers(dataset.speakers, p=leave_out, seed=seed, n_val=n_val)
        folds = len(splits)
    else:
        splits = kfold_speakers(dataset.speakers, k=folds, seed=seed, n_val=n_val)
    per_fold, written = [], {k: [] for k in TRIAL_KINDS}
    for i, split in enumerate(splits):
        fold_dir = out / f"fold{i}"
        model = fit(cfg, dataset, fold_dir, split, progress)
        test = dataset.of_speakers(split.test)
        e = evaluate_clips(model, test, fold_dir / "eval", n_boot=0, title=f"{cfg.model.name} fold {i}")
        per_fold.append(Fold(list(split.test), e.trials))
        for kind in e.trials:
            written[kind].append(fold_dir / "eval" / SCORE_FILES[kind])
    out.mkdir(parents=True, exist_ok=True)
    pooled, fold_mean = {}, {}
    for kind, files in written.items():
        if not files:
            continue
        trials = ScoreList.concat([ScoreList.read(f) for f in files])
        trials.write(out / SCORE_FILES[kind])
        pooled[kind] = TrialResult.from_scores(kind, trials, n_boot=500, seed=seed)
        fold_mean[kind] = float(np.mean([f.trials[kind].eer for f in per_fold if kind in f.trials]))
    if "text_independent" not in pooled:
        raise InvalidInputError("cross-validation produced no text-independent trials")
    result = CrossValidation(cfg.model.name, folds, leave_out, dataset.speakers, per_fold, pooled, fold_mean)
    (out / "crossval.json").write_text(json.dumps(result.to_dict(), indent=2))
    return result
