"""Two videos, one question: the same person? No enrolment, no store: the clip-against-clip
thresholds the model file carries (fitted on clip pairs of its validation speakers, as
`evaluate` scores them), not the template thresholds `verify` uses."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any

from lipauth.clip import LipClip
from lipauth.errors import InvalidInputError
from lipauth.pad.checks import Check, PresentationChecks
from lipauth.scoring.policy import DecisionPolicy


def clip_pair_policy(embedder, operating_point: str | float = "eer") -> DecisionPolicy:
    raw = dict(getattr(embedder, "thresholds", None) or {})
    if not raw and not isinstance(operating_point, float):
        raise InvalidInputError("this model carries no clip-pair thresholds; give a numeric operating point")
    if getattr(embedder, "calibration", None):
        raw["llr_slope"] = embedder.calibration["a"]
    return DecisionPolicy(raw, operating_point=operating_point, scoring="raw", source="clip pairs of the model's validation speakers")


@dataclass
class Comparison:
    a: str
    b: str
    score: float  # cosine of the two clips' embeddings
    threshold: float
    same_person: bool  # score reached the threshold and every check that ran passed
    llr: float | None
    operating_point: str
    checks: list[Check] = field(default_factory=list)  # on each video; Check.extra["video"] says which

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def compare(model, a: str | os.PathLike | LipClip, b: str | os.PathLike | LipClip, *, operating_point: str | float = "eer", checks: PresentationChecks | None = None) -> Comparison:
    """checks: presentation-attack checks to run on both videos (None: none)."""
    policy = clip_pair_policy(model.embedder, operating_point)
    clips = [model.clip(a), model.clip(b)]
    ea, eb = model.embedder.embed_clips(clips)
    v = policy.decide(ea[None, :], eb)
    ran: list[Check] = []
    if checks is not None:
        for name, clip in zip((_name(a), _name(b)), clips):
            results, _ = checks.run(clip, None)
            for c in results:
                c.extra = {**c.extra, "video": name}
            ran += results
    same = v.accepted and all(c.passed for c in ran if c.status != "not_run")
    return Comparison(_name(a), _name(b), v.score, v.threshold, same, v.llr, v.operating_point, ran)


def _name(v) -> str:
    return v.meta.clip_id if isinstance(v, LipClip) else os.fspath(v)
