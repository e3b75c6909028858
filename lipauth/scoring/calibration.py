"""Operating points from calibration trials: thresholds at the EER and at FMR 1 % / 0.1 %,
and the linear score -> log-likelihood-ratio calibration, for clip-against-clip trials (what
`evaluate` scores) and for a probe against an enrolment template (what the Verifier scores)."""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass
class TemplateTrials:
    """Probes against enrolment templates, as the Verifier scores them: per speaker, random
    enrolment sets of `n_enrol` clips; every clip outside the set is a probe."""

    scores: np.ndarray  # cosine of probe to template
    self_similarity: np.ndarray  # of the probe's template (NaN with one enrolment clip)
    genuine: np.ndarray
    n_enrol: int

    @property
    def normalised(self) -> np.ndarray:
        return self.scores - self.self_similarity


def template_trials(emb: np.ndarray, speakers: list, *, n_enrol: int = 3, draws: int = 20, seed: int = 0) -> TemplateTrials | None:
    """`emb` are the clips' embeddings, `speakers` their speakers. Small sets enrol from fewer
    clips, so that each speaker keeps a probe; None where no trials can be formed."""
    spk = np.array(speakers, dtype=object)
    n_enrol = min(n_enrol, min(int((spk == s).sum()) for s in set(speakers)) - 1)
    if n_enrol < 1 or len(set(speakers)) < 2:
        return None
    rng = np.random.default_rng(seed)
    scores, own, genuine = [], [], []
    for s in sorted(set(speakers), key=str):
        mine = np.flatnonzero(spk == s)
        for _ in range(draws):
            enrol = rng.choice(mine, n_enrol, replace=False)
            probes = np.setdiff1d(np.arange(len(spk)), enrol)
            scores.append(emb[probes] @ template_vector(emb[enrol]))
            own.append(np.full(len(probes), self_similarity(emb[enrol]) if n_enrol >= 2 else np.nan))
            genuine.append(spk[probes] == s)
    return TemplateTrials(np.concatenate(scores), np.concatenate(own), np.concatenate(genuine).astype(bool), n_enrol)


def calibrate_verification(emb: np.ndarray, clips: list[LipClip], *, n_enrol: int = 3, draws: int = 20, seed: int = 0) -> dict[str, float]:
    """Thresholds for what the Verifier scores: a probe against the mean of `n_enrol`
    enrolment clips. Averaging raises cosine scores, so clip-pair thresholds would accept
    too much. `emb` are the clips' embeddings."""
    t = template_trials(emb, [c.meta.speaker for c in clips], n_enrol=n_enrol, draws=draws, seed=seed)
    if t is None:
        return {}  # nothing to calibrate on: the policy falls back to the clip-pair thresholds
    # llr_slope: the scale of the decision policy's LLR, fitted on these same trials
    out: dict = {**thresholds_at_points(t.scores, t.genuine), "n_enrol": t.n_enrol, "llr_slope": fit_llr_calibration(t.scores, t.genuine)[0]}
    if t.n_enrol >= 2:
        # Enrolment-normalised scores: score minus the template's own self-similarity.
        out["normalised"] = {**thresholds_at_points(t.normalised, t.genuine), "llr_slope": fit_llr_calibration(t.normalised, t.genuine)[0]}
    return out


def thresholds_at_points(scores: np.ndarray, genuine: np.ndarray) -> dict[str, float]:
    rate, t_eer = eer(scores, genuine)
    return {
        "eer": t_eer,
        "fmr_1pct": threshold_at_fmr(scores, genuine, 0.01),
        "fmr_0.1pct": threshold_at_fmr(scores, genuine, 0.001),
        "calibration_eer": rate,
    }
