"""Late (score-level) fusion of models evaluated on the same trials.

The sum rule (Kittler et al. 1998) on each model's cosine scores after its whitening
backend: both scores are cosines of length-normalised, whitened embeddings, so they share a
scale and no fusion weights need to be fitted (there are no spare speakers to fit them on).
The trials are read from each run's score files and matched by probe id, so runs whose
trials differ are refused rather than added line by line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lipauth.errors import InvalidInputError
from lipauth.eval.results import TrialResult
from lipauth.eval.scores import SCORE_FILES, ScoreList


def late_fusion(run_dirs: list[str | Path], weights: list[float] | None = None, seed: int = 0) -> dict[str, TrialResult]:
    """Fuse the pooled score files of several cross-validation runs (same folds, same
    clips) by a weighted sum of scores; per trial kind, the fused trials' figures."""
    if len(run_dirs) < 2:
        raise InvalidInputError("late fusion needs the trials of at least two models")
    w = np.ones(len(run_dirs)) / len(run_dirs) if weights is None else np.asarray(weights, np.float64)
    out: dict[str, TrialResult] = {}
    for kind, name in SCORE_FILES.items():
        files = [Path(d) / name for d in run_dirs]
        if not all(f.is_file() for f in files):
            continue
        runs = [ScoreList.read(f) for f in files]
        first = runs[0]
        order = {p: i for i, p in enumerate(first.probe)}
        fused = w[0] * first.scores
        for wi, r in zip(w[1:], runs[1:]):
            idx = np.array([order.get(p, -1) for p in r.probe])
            if len(r) != len(first) or (idx < 0).any() or len(set(idx)) != len(idx) or not np.array_equal(r.genuine, first.genuine[idx]):
                raise InvalidInputError(f"the runs' {kind} trials differ: fuse only runs over the same folds and clips")
            aligned = np.empty(len(first))
            aligned[idx] = r.scores
            fused = fused + wi * aligned
        out[kind] = TrialResult.from_scores(kind, ScoreList(first.claimed, first.real, first.probe, fused), n_boot=500, seed=seed)
    if not out:
        raise InvalidInputError(f"no score files ({', '.join(SCORE_FILES.values())}) common to {', '.join(map(str, run_dirs))}")
    return out
