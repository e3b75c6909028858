"""The decision policy: the one place that turns a probe's score against a template into
accept or reject. `verify`, `identify`, the service and the evaluation report all ask it, so
every surface shows the same threshold for an operating point.

Built from what the model file carries: thresholds at the EER and at FMR 1 % / 0.1 %,
calibrated on the model's validation speakers for what the Verifier scores (a probe against
an enrolment template), and how the model recommends to score:

- raw: the cosine of the probe to the template against one threshold for everyone;
- normalised: the cosine minus the template's self-similarity (how alike the user's own
  enrolment clips are) against one threshold, which carries over to cameras and corpora the
  model was not calibrated on. Per user this is a cosine threshold of self-similarity plus
  the policy's threshold.

The log-likelihood ratio is stated on the decision's own scale and anchored at the EER
threshold: LLR = slope * (decision score - EER threshold). A probe rejected at the EER point
never gets a positive LLR, and each operating point states the LLR its threshold stands
for. The slope comes from logistic regression on the same verification trials where the
model file carries it (`llr_slope`), else from its clip-pair calibration (older files).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lipauth.errors import InvalidInputError
from lipauth.scoring.templates import self_similarity, template_vector

from lipauth.scoring.points import parse_operating_point, parse_scoring


@dataclass(frozen=True)
class Verdict:
    score: float  # cosine of the probe to the template
    threshold: float  # the cosine this user's probe had to reach
    accepted: bool
    operating_point: str
    how: str  # how the threshold was set
    llr: float | None = None  # calibrated log-likelihood ratio of this probe
    llr_threshold: float | None = None  # the LLR the threshold stands for (0 at the EER point)


class DecisionPolicy:
    def __init__(
        self, raw: dict[str, float], *, normalised: dict[str, float] | None = None, operating_point: str | float = "eer", scoring: str = "raw", source: str = ""
    ) -> None:
        """raw: operating point -> threshold on the cosine (and optionally "llr_slope");
        normalised: the same on cosine minus self-similarity, for scoring="normalised". A
        numeric operating point is a raw cosine threshold of the caller's own."""
        scoring = parse_scoring(scoring)
        operating_point = parse_operating_point(operating_point)
        numeric = isinstance(operating_point, float)
        if scoring == "normalised" and not numeric and not normalised:
            raise InvalidInputError("this model carries no enrolment-normalised thresholds; use scoring='raw'")
        self.scoring = "raw" if numeric else scoring
        self.source = source
        self._scales = {"raw": dict(raw), "normalised": dict(normalised or {})}
        if numeric:
            self.operating_point, self.raw_threshold = f"score >= {operating_point:g}", float(operating_point)
            self.threshold = self.raw_threshold
            return
        self.operating_point = operating_point
        for scale in {"raw", self.scoring}:
            if operating_point not in self._scales[scale]:
                raise InvalidInputError(f"the model carries no {operating_point!r} threshold")
        self.raw_threshold = float(raw[operating_point])  # for one-clip templates, which have no self-similarity
        self.threshold = float(self._scales[self.scoring][operating_point])

    @classmethod
    def from_model(cls, embedder, operating_point: str | float = "eer", scoring: str | None = None) -> "DecisionPolicy":
        """The policy a model file defines (`embedder`: a LipEmbedder). scoring=None takes
        the model's recommendation; models made before verification thresholds existed fall
        back to their clip-pair thresholds."""
        verify = dict(embedder.verify_thresholds or {})
        if verify:
            raw, source = verify, "probes against enrolment templates of the validation speakers"
        else:
            raw, source = dict(embedder.thresholds or {}), "clip pairs of the validation speakers (the model carries no template thresholds)"
        calibration = embedder.calibration
        if calibration and "llr_slope" not in raw:
            raw["llr_slope"] = calibration["a"]  # older files: the slope of the clip-pair calibration
        normalised = verify.get("normalised")
        mode = parse_scoring(scoring) or verify.get("scoring", "raw")
        return cls(raw, normalised=normalised, operating_point=operating_point, scoring=mode, source=source)

    # -- deciding ---------------------------------------------------------------------------
    def threshold_for(self, enrolled: np.ndarray) -> tuple[float, str]:
        """The cosine threshold a probe against these enrolment embeddings must reach, and how
        it was set."""
        return self._threshold(self._own(enrolled))

    def _own(self, enrolled: np.ndarray) -> float | None:
        """The template's self-similarity where the policy scores normalised (None with one clip)."""
        return self_similarity(enrolled) if self.scoring == "normalised" else None

    def _threshold(self, own: float | None) -> tuple[float, str]:
        if own is None:
            return self.raw_threshold, self.operating_point
        return own + self.threshold, f"{self.operating_point}, enrolment-normalised: self-similarity {own:.3f} {self.threshold:+.3f}"

    def decide(self, enrolled: np.ndarray, probe: np.ndarray) -> Verdict:
        """enrolled: a user's enrolment embeddings (n, D); probe: (D,)."""
        enrolled = np.atleast_2d(np.asarray(enrolled, np.float32))
        score = float(template_vector(enrolled) @ np.asarray(probe, np.float32))
        return self.decide_score(score, self._own(enrolled))

    def decide_score(self, score: float, self_sim: float | None) -> Verdict:
        """The decision on a cosine already computed, given the template's self-similarity
        (None with one clip): what an index of template vectors hands over."""
        own = self_sim if self.scoring == "normalised" else None
        threshold, how = self._threshold(own)
        # the LLR on the scale that decided: cosine minus self-similarity, or the cosine
        scale, decision_score, decision_threshold = ("normalised", score - own, self.threshold) if own is not None else ("raw", score, self.raw_threshold)
        return Verdict(
            score=score, threshold=threshold, accepted=score >= threshold, operating_point=self.operating_point, how=how,
            llr=self.llr(decision_score, scale), llr_threshold=self.llr(decision_threshold, scale),
        )

    def decision_scores(self, scores: np.ndarray, self_similarities: np.ndarray | None = None) -> np.ndarray:
        """Scores on the scale `threshold` applies to: cosine, or cosine minus the template's
        self-similarity (evaluation reports use this for whole trial lists)."""
        s = np.asarray(scores, np.float64)
        if self.scoring == "normalised":
            if self_similarities is None:
                raise InvalidInputError("normalised scoring needs each template's self-similarity (templates of at least 2 clips)")
            return s - np.asarray(self_similarities, np.float64)
        return s

    def llr(self, decision_score: float, scale: str | None = None) -> float | None:
        """The LLR of a score on `scale` (default: the policy's), zero at that scale's EER
        threshold; None where the model carries no calibration."""
        table = self._scales[scale or self.scoring]
        slope = table.get("llr_slope", self._scales["raw"].get("llr_slope"))
        if slope is None or "eer" not in table:
            return None
        return float(slope * (decision_score - table["eer"]))

    def describe(self) -> dict[str, Any]:
        """What a report prints: the operating point, scoring, threshold and its source."""
        return {"operating_point": self.operating_point, "scoring": self.scoring, "threshold": self.threshold, "llr_threshold": self.llr(self.threshold), "source": self.source}
