"""What the REST service answers, as typed models: the OpenAPI document (and /docs) shows
each response's fields and every error status."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    error: str = Field(description="machine-readable code, e.g. unknown_user, fte, challenge_refused")
    detail: str = Field(description="one-line reason a person can act on")


class CheckOut(BaseModel):
    name: str
    status: str = Field(description="passed, failed or not_run")
    passed: bool
    score: float | None = Field(description="null when the check did not run")
    threshold: float | None
    detail: str
    extra: dict[str, Any] = {}


class DecisionOut(BaseModel):
    user: str
    accepted: bool = Field(description="identity score (the fused LLR, where other modalities ran) reached its threshold and every check that ran passed")
    score: float = Field(description="cosine of the probe's lips to the user's template")
    threshold: float
    llr: float | None = Field(description="calibrated log-likelihood ratio (of the fused modalities, where they decided), where the model carries a calibration")
    llr_threshold: float | None
    operating_point: str
    reasons: list[str] = Field(description="the sentences a person reads, rendered from the fields (never parse them)")
    checks: list[CheckOut]
    modality_scores: dict[str, float] = Field({}, description="cosine per modality that ran, lips included; empty for lips-only decisions")
    left_out: dict[str, str] = Field({}, description="modalities asked for that could not run, and why")
    fused: list[str] = Field([], description="the modalities whose fused LLR decided; empty when the lips decided alone")
    not_run: dict[str, str] = Field({}, description="presentation-attack checks asked for that could not run, and why")
    probe: str = Field("", description="the video judged, where it was named")
    how: str = Field("", description="how the lips' threshold was set: the model's, or this user's own level")
    fused_how: str = Field("", description="how the fused LLR's threshold was set")
    passphrase_refused: bool = Field(False, description="a passphrase was enrolled and the one given is not it")
    trimmed_s: float | None = Field(None, description="only the video's first seconds were used (the pipeline's limit)")


class EnrolOut(BaseModel):
    user: str
    n_clips: int = Field(description="clips in the template after this enrolment")
    mode: str
    weak: str | None = Field(default=None, description="why the template is weaker than it should be (one clip), else null")


class ChallengeOut(BaseModel):
    challenge_id: str
    phrase: str = Field(description="six words of the GRID grammar to say on camera")
    user: str | None = Field(description="who must answer it; null: anyone")
    expires_at: str = Field(description="ISO 8601, UTC")


class LoginOut(ChallengeOut):
    token: str = Field(description="one-time login token for POST /v1/login/verify (Authorization: Bearer), for this user and this challenge")


class TokenOut(BaseModel):
    token: str = Field(description="one-time token, shown only here (only its hash is stored)")
    scope: str = Field(description="login or enrol")
    user: str
    mode: str | None = Field(description="an enrol token's mode: new, replace or add")
    expires_at: str = Field(description="ISO 8601, UTC")


class UserOut(BaseModel):
    user_id: str
    n_clips: int
    created_at: str
    updated_at: str


class UsersOut(BaseModel):
    users: list[UserOut]


class IdentifyOut(BaseModel):
    policy: dict[str, Any]
    candidates: list[DecisionOut] = Field(description="the closest users, best first: each a decision for that user (accepted: a match)")


class EmbeddingOut(BaseModel):
    path: str = Field(description="the upload's name as sent")
    model_id: str
    lips: list[float]
    voice: list[float] | None = Field(default=None, description="GE2E speaker vector; null where there is no speech (absent where the service does not use the voice)")
    face: list[float] | None = Field(default=None, description="dlib face vector; null where no face was fitted (absent where the service does not use the face)")
    left_out: dict[str, str] = Field({}, description="modalities that could not run on this video, and why")


class UnlockOut(BaseModel):
    user: str
    cleared: bool = Field(description="whether the user had failed attempts to clear")


class AuditEntryOut(BaseModel):
    id: int
    at: float = Field(description="POSIX seconds, UTC")
    time: str = Field(description="ISO 8601, UTC")
    event: str
    user_id: str | None
    outcome: str
    details: dict[str, Any]
    model_id: str | None
    client: str
    request_id: str


class AuditOut(BaseModel):
    entries: list[AuditEntryOut]


class HealthOut(BaseModel):
    status: str
    version: str | None = Field(default=None, description="with the API key only")
    model: str | None = Field(default=None, description="with the API key only")
    users: int | None = Field(default=None, description="with the API key only")


def errors(*statuses: int) -> dict[int, dict]:
    """The `responses=` entry documenting these error statuses with the error body."""
    return {s: {"model": ErrorBody} for s in statuses}
