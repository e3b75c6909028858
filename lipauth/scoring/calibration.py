"""Operating points from calibration trials: thresholds at the EER and at FMR 1 % / 0.1 %,
and the linear score -> log-likelihood-ratio calibration, for clip-against-clip trials (what
`evaluate` scores) and for a probe against an enrolment template (what the Verifier scores)."""

from __future__ import annotations

import numpy as np

from lipauth.clip import LipClip
from lipauth.measure.metrics import eer, fit_llr_calibration, threshold_at_fmr
from lipauth.protocol import make_trials
from lipauth.scoring.templates import self_similarity, template_vector


def calibrate(emb: np.ndarray, clips: list[LipClip]) -> tuple[dict[str, float], dict[str, float]]:
    """Thresholds at the EER and at FMR 1 % / 0.1 %, and the score -> LLR calibration, from
    text-independent clip-against-clip trials among `clips` (what `evaluate` scores);
    `emb` are the clips' embeddings."""
    trials = make_trials([c.meta for c in clips], "text_independent")
    scores = trials.scores(emb)
    a, b = fit_llr_calibration(scores, trials.genuine)
    return thresholds_at_points(scores, trials.genuine), {"a": a, "b": b}


def calibrate_verification(emb: np.ndarray, clips: list[LipClip], *, n_enrol: int = 3, draws: int = 20, seed: int = 0) -> dict[str, float]:
    """Thresholds for what the Verifier scores: a probe against the mean of `n_enrol`
    enrolment clips. Averaging raises cosine scores, so clip-pair thresholds would accept
    too much. Per speaker, `draws` random enrolment sets; every other clip is a probe.
    `emb` are the clips' embeddings."""
    speakers = np.array([c.meta.speaker for c in clips], dtype=object)
    # Small calibration sets: enrol from fewer clips, so each speaker keeps a probe.
    n_enrol = min(n_enrol, min(int((speakers == s).sum()) for s in set(speakers)) - 1)
    if n_enrol < 1 or len(set(speakers)) < 2:
        return {}  # nothing to calibrate on: the Verifier falls back to the clip-pair thresholds
    rng = np.random.default_rng(seed)
    scores, offsets, genuine = [], [], []
    for spk in sorted(set(speakers)):
        own = np.flatnonzero(speakers == spk)
        for _ in range(draws):
            enrol = rng.choice(own, n_enrol, replace=False)
            probes = np.setdiff1d(np.arange(len(clips)), enrol)
            scores.append(emb[probes] @ template_vector(emb[enrol]))
            offsets.append(self_similarity(emb[enrol]) if n_enrol >= 2 else np.nan)
            genuine.append(speakers[probes] == spk)
    s, g = np.concatenate(scores), np.concatenate(genuine)
    out: dict = {**thresholds_at_points(s, g), "n_enrol": n_enrol}
    if n_enrol >= 2:
        # Enrolment-normalised scores: score minus the template's own self-similarity.
        d = np.concatenate([sc - off for sc, off in zip(scores, offsets)])
        out["normalised"] = thresholds_at_points(d, g)
    return out


def thresholds_at_points(scores: np.ndarray, genuine: np.ndarray) -> dict[str, float]:
    rate, t_eer = eer(scores, genuine)
    return {
        "eer": t_eer,
        "fmr_1pct": threshold_at_fmr(scores, genuine, 0.01),
        "fmr_0.1pct": threshold_at_fmr(scores, genuine, 0.001),
        "calibration_eer": rate,
    }
