"""The one answer to "is this the person?": verify's decision, each candidate identify finds,
and compare's verdict on two videos (a decision against a one-clip template) are all a
`Decision`, with the same field names in Python, the CLI's JSON and the REST service."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from lipauth.pad.checks import Check


@dataclass
class Decision:
    user: str  # the claimed user; for compare, the first video
    score: float  # the lips' cosine to the user's template (compare: to the first video)
    threshold: float  # the cosine the lips alone had to reach (lipauth.scoring.policy)
    accepted: bool  # the identity decision (the fused LLR where other modalities decided) and every check that ran passed
    llr: float | None = None  # calibrated log-likelihood ratio: the fused one where other modalities decided
    operating_point: str = ""
    checks: list[Check] = field(default_factory=list)
    llr_threshold: float | None = None  # the LLR the threshold stands for (0 at the EER point)
    # with other modalities (lipauth.auth.modalities): each one's cosine, lips included, and
    # why any asked for did not run; `fused` names those whose fused LLR decided (llr, llr_threshold)
    modality_scores: dict[str, float] = field(default_factory=dict)
    left_out: dict[str, str] = field(default_factory=dict)
    fused: list[str] = field(default_factory=list)
    not_run: dict[str, str] = field(default_factory=dict)  # check name -> why it could not run
    probe: str = ""  # the video judged, where the caller named it (compare's second video)
    how: str = ""  # how the lips' threshold was set (the model's, or this user's: scoring.policy)
    fused_how: str = ""  # how the fused LLR's threshold was set (the rule's, or this user's)
    passphrase_refused: bool = False  # a passphrase was enrolled and the one given is not it
    trimmed_s: float | None = None  # only the video's first seconds were used (the pipeline's max_seconds)

    @property
    def reasons(self) -> list[str]:
        """The sentences a person reads, rendered from the fields (lipauth.auth.present)."""
        from lipauth.auth.present import reasons

        return reasons(self)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "reasons": self.reasons}
