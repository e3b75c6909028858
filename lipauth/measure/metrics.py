"""Verification metrics in the field's terms. Scores are similarities (higher = more alike);
rates are fractions.

  FMR(t)  = share of impostor scores >= t        FNMR(t) = share of genuine scores < t
  EER     = the rate where FMR = FNMR
  minDCF  = min_t C_miss*FNMR*p + C_fa*FMR*(1-p), normalised by min(C_miss*p, C_fa*(1-p))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lipauth.errors import InvalidInputError


@dataclass(frozen=True)
class Curve:
    """FMR and FNMR at every distinct threshold (ascending), from weighted scores."""

    thresholds: np.ndarray
    fmr: np.ndarray
    fnmr: np.ndarray


def error_curve(scores: np.ndarray, genuine: np.ndarray, weights: np.ndarray | None = None) -> Curve:
    scores = np.asarray(scores, np.float64)
    genuine = np.asarray(genuine, bool)
    if scores.shape != genuine.shape or scores.ndim != 1:
        raise InvalidInputError("scores and genuine must be 1-D arrays of the same length")
    w = np.ones_like(scores) if weights is None else np.asarray(weights, np.float64)
    g_tot, i_tot = w[genuine].sum(), w[~genuine].sum()
    if g_tot <= 0 or i_tot <= 0:
        raise InvalidInputError(f"need genuine and impostor trials, got {int(genuine.sum())} genuine and {int((~genuine).sum())} impostor")
    order = np.argsort(scores, kind="mergesort")
    s, g, w = scores[order], genuine[order], w[order]
    # At threshold s[i]: trials with score < s[i] are rejected.
    cum_g = np.concatenate([[0], np.cumsum(w * g)])
    cum_i = np.concatenate([[0], np.cumsum(w * ~g)])
    first = np.concatenate([[True], s[1:] != s[:-1]])  # first index of each distinct score
    idx = np.flatnonzero(first)
    thresholds = np.concatenate([s[idx], [np.inf]])
    below_g = np.concatenate([cum_g[idx], [cum_g[-1]]])
    below_i = np.concatenate([cum_i[idx], [cum_i[-1]]])
    return Curve(thresholds=thresholds, fmr=1 - below_i / i_tot, fnmr=below_g / g_tot)


def eer(scores, genuine, weights=None) -> tuple[float, float]:
    """(EER, threshold). Where FMR and FNMR cross between two thresholds, the EER is
    interpolated linearly between the two points (the ROC convex-hull convention)."""
    c = error_curve(scores, genuine, weights)
    diff = c.fnmr - c.fmr  # rises from -1 to +1
    j = int(np.searchsorted(diff, 0.0))
    if j == 0:
        return float(c.fmr[0]), float(c.thresholds[0])
    i = j - 1
    d0, d1 = diff[i], diff[j]
    frac = 0.0 if d1 == d0 else -d0 / (d1 - d0)
    rate = (c.fnmr[i] + frac * (c.fnmr[j] - c.fnmr[i]) + c.fmr[i] + frac * (c.fmr[j] - c.fmr[i])) / 2
    t_hi = c.thresholds[j] if np.isfinite(c.thresholds[j]) else c.thresholds[i]
    return float(rate), float(c.thresholds[i] + frac * (t_hi - c.thresholds[i]))


def fnmr_at_fmr(scores, genuine, target: float) -> tuple[float, float]:
    """(FNMR, threshold) at the lowest threshold whose FMR <= target."""
    c = error_curve(scores, genuine)
    ok = np.flatnonzero(c.fmr <= target)
    i = int(ok[0])
    return float(c.fnmr[i]), float(c.thresholds[i])


def threshold_at_fmr(scores, genuine, target: float) -> float:
    return fnmr_at_fmr(scores, genuine, target)[1]


def min_dcf(scores, genuine, p_target: float = 0.01, c_miss: float = 1.0, c_fa: float = 1.0) -> tuple[float, float]:
    """(normalised minDCF, threshold)."""
    c = error_curve(scores, genuine)
    dcf = c_miss * p_target * c.fnmr + c_fa * (1 - p_target) * c.fmr
    i = int(np.argmin(dcf))
    return float(dcf[i] / min(c_miss * p_target, c_fa * (1 - p_target))), float(c.thresholds[i])


def rates_at(scores, genuine, threshold: float) -> dict[str, float]:
    """FMR, FNMR and HTER (their mean) at a fixed threshold (accept if score >= threshold)."""
    scores = np.asarray(scores)
    genuine = np.asarray(genuine, bool)
    fmr = float((scores[~genuine] >= threshold).mean())
    fnmr = float((scores[genuine] < threshold).mean())
    return {"fmr": fmr, "fnmr": fnmr, "hter": (fmr + fnmr) / 2}


def bootstrap_eer_ci(scores, genuine, spk_a, spk_b, *, n_boot: int = 500, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Confidence interval of the EER by resampling speakers with replacement.

    A trial between speakers a and b counts c_a * c_b times, c being how often each speaker
    was drawn (a speaker's own genuine trials count c_a^2 times), so trials that share a
    speaker are resampled together, as they are not independent.
    """
    scores = np.asarray(scores, np.float64)
    genuine = np.asarray(genuine, bool)
    speakers = sorted(set(spk_a) | set(spk_b), key=str)
    code = {s: i for i, s in enumerate(speakers)}
    ia = np.array([code[s] for s in spk_a])
    ib = np.array([code[s] for s in spk_b])
    rng = np.random.default_rng(seed)
    eers = []
    for _ in range(n_boot):
        counts = np.bincount(rng.integers(0, len(speakers), len(speakers)), minlength=len(speakers)).astype(np.float64)
        w = counts[ia] * counts[ib]
        if w[genuine].sum() == 0 or w[~genuine].sum() == 0:
            continue
        eers.append(eer(scores, genuine, w)[0])
    if not eers:
        raise InvalidInputError("bootstrap found no resample with both genuine and impostor trials")
    lo, hi = np.quantile(eers, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)


def fit_llr_calibration(scores, genuine) -> tuple[float, float]:
    """(a, b) with llr = a * score + b: logistic regression with balanced class weights, so
    that its log-odds are log-likelihood ratios (prior-free)."""
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(class_weight="balanced", C=1e6)
    lr.fit(np.asarray(scores, np.float64).reshape(-1, 1), np.asarray(genuine, int))
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])
