"""Metrics of trials pooled over folds or models: one EER over every fold's scores, with a
bootstrap CI over the speakers (cross-validation, late fusion)."""

from __future__ import annotations

from typing import Any

import numpy as np

from lipauth.measure.metrics import bootstrap_eer_ci, eer


def pooled_metrics(kind: str, scores, genuine, speaker_a, speaker_b, seed: int = 0) -> dict[str, Any]:
    """EER with its speaker-bootstrap CI and trial counts, under the metrics.json key names."""
    return {
        f"eer_{kind}": eer(scores, genuine)[0],
        f"eer_{kind}_ci95": list(bootstrap_eer_ci(scores, genuine, list(speaker_a), list(speaker_b), n_boot=500, seed=seed)),
        f"n_genuine_{kind}": int(np.sum(genuine)),
        f"n_impostor_{kind}": int(np.sum(~np.asarray(genuine, bool))),
    }
