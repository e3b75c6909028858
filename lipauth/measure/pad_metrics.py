"""Presentation-attack detection metrics in ISO/IEC 30107-3 terms.

APCER (per PAI species): the share of attack presentations of that species accepted as
bona fide. BPCER: the share of bona fide presentations rejected as attacks. The standard
reports APCER per species and the system's APCER as the worst species; BPCER@APCER=x is the
BPCER at the strictest threshold that keeps every species' APCER at or below x.
Scores are "bona fide-ness": higher means more likely bona fide; accept when score >= t.
"""

from __future__ import annotations

import numpy as np

from lipauth.errors import InvalidInputError


def _check(scores, bona_fide, species):
    s = np.asarray(scores, np.float64)
    b = np.asarray(bona_fide, bool)
    sp = np.asarray(species, object)
    if not (s.shape == b.shape == sp.shape) or s.ndim != 1:
        raise InvalidInputError("scores, bona_fide and species must be 1-D and of one length")
    if not b.any() or b.all():
        raise InvalidInputError("PAD metrics need both bona fide and attack presentations")
    return s, b, sp


def apcer_bpcer(scores, bona_fide, species, threshold: float) -> dict:
    """{"apcer": {species: rate}, "apcer_max": worst species, "bpcer": rate} at `threshold`."""
    s, b, sp = _check(scores, bona_fide, species)
    apcer = {str(k): float(np.mean(s[~b & (sp == k)] >= threshold)) for k in sorted(set(sp[~b]))}
    return {"apcer": apcer, "apcer_max": max(apcer.values()), "bpcer": float(np.mean(s[b] < threshold))}


def threshold_at_apcer(scores, bona_fide, species, target: float) -> float:
    """The lowest threshold at which every species' APCER is <= target (so BPCER is least)."""
    s, b, sp = _check(scores, bona_fide, species)
    t = -np.inf
    for k in set(sp[~b]):
        att = np.sort(s[~b & (sp == k)])[::-1]
        allowed = int(np.floor(target * len(att) + 1e-9))  # attacks that may pass
        if allowed < len(att):
            t = max(t, float(np.nextafter(att[allowed], np.inf)))  # just above the first one that must fail
    return t


def bpcer_at_apcer(scores, bona_fide, species, target: float) -> tuple[float, float]:
    """(BPCER, threshold) at APCER = target for every species."""
    t = threshold_at_apcer(scores, bona_fide, species, target)
    s, b, _ = _check(scores, bona_fide, species)
    return float(np.mean(s[b] < t)), t
