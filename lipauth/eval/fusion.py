"""Late (score-level) fusion of models evaluated on the same trials.

The sum rule (Kittler et al. 1998) on each model's cosine scores after its whitening
backend: both scores are cosines of length-normalised, whitened embeddings, so they share a
scale and no fusion weights need to be fitted (there are no spare speakers to fit them on).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lipauth.protocol import TRIAL_KINDS
from lipauth.errors import InvalidInputError
from lipauth.eval.pooled import pooled_metrics


def late_fusion(trial_files: list[str | Path], weights: list[float] | None = None, seed: int = 0) -> dict:
    """Fuse the `pooled_trials.npz` of several cross-validation runs (same folds, same
    trials) by a weighted sum of scores; metrics under the crossval key names."""
    if len(trial_files) < 2:
        raise InvalidInputError("late fusion needs the trials of at least two models")
    runs = [np.load(Path(f)) for f in trial_files]
    w = np.ones(len(runs)) / len(runs) if weights is None else np.asarray(weights, np.float64)
    out: dict = {}
    for kind in TRIAL_KINDS:
        key = f"{kind}/scores"
        if not all(key in r.files for r in runs):
            continue
        first = runs[0]
        for r in runs[1:]:
            if not (np.array_equal(r[f"{kind}/genuine"], first[f"{kind}/genuine"]) and np.array_equal(r[f"{kind}/speaker_a"], first[f"{kind}/speaker_a"])):
                raise InvalidInputError(f"the runs' {kind} trials differ: fuse only runs over the same folds and clips")
        fused = sum(wi * r[key] for wi, r in zip(w, runs))
        out.update(pooled_metrics(kind, fused, first[f"{kind}/genuine"], first[f"{kind}/speaker_a"], first[f"{kind}/speaker_b"], seed))
    return out
