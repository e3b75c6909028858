"""Enrol, verify (1:1), identify (1:N) and delete: the facade a login talks to."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np

from lipauth.auth.store import TemplateStore
from lipauth.auth.templates import Template
from lipauth.clip import LipClip
from lipauth.errors import FailureToEnrol, InvalidInputError, LipauthError
from lipauth.pad.checks import Check, PresentationChecks

OPERATING_POINTS = ("eer", "fmr_1pct", "fmr_0.1pct")


@dataclass
class Decision:
    user: str
    score: float  # cosine similarity of the probe to the user's template
    threshold: float
    accepted: bool
    llr: float | None = None  # calibrated log-likelihood ratio, if the model carries a calibration
    operating_point: str = ""
    reasons: list[str] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Verifier:
    def __init__(
        self, model, store: TemplateStore, *, operating_point: str | float = "eer", scoring: str | None = None, min_enrol_clips: int = 1, checks: PresentationChecks | None = None
    ) -> None:
        """operating_point: "eer", "fmr_1pct" or "fmr_0.1pct" (thresholds the model file carries,
        calibrated on its validation speakers), or a threshold on the cosine score.

        scoring: "raw" compares the cosine score with one threshold for everyone;
        "normalised" with the user's template self-similarity plus a calibrated offset, which
        carries over to cameras and corpora the model was not calibrated on. None takes the
        model's recommendation. A numeric operating point always scores raw.

        checks: the presentation-attack models for verify(liveness=True); None loads the
        ones bundled with lipauth when first needed."""
        self.model = model
        self._checks = checks
        self.store = store
        self.min_enrol_clips = min_enrol_clips
        self.threshold, self.operating_point = self._resolve(operating_point)
        calibrated = getattr(model.embedder, "verify_thresholds", {}) or {}
        self.scoring = "raw" if isinstance(operating_point, (int, float)) else (scoring or calibrated.get("scoring", "raw"))
        if self.scoring not in ("raw", "normalised"):
            raise InvalidInputError(f"scoring must be raw or normalised, got {self.scoring!r}")
        self.offset = None
        if self.scoring == "normalised":
            if "normalised" not in calibrated:
                raise InvalidInputError("this model carries no enrolment-normalised thresholds; use scoring='raw'")
            self.offset = float(calibrated["normalised"][self.operating_point])

    def _resolve(self, point: str | float) -> tuple[float, str]:
        if isinstance(point, (int, float)):
            return float(point), f"score >= {point:g}"
        if point not in OPERATING_POINTS:
            raise InvalidInputError(f"operating point must be one of {', '.join(OPERATING_POINTS)} or a number, got {point!r}")
        if point not in self.model.thresholds:
            raise InvalidInputError(f"the model carries no {point!r} threshold")
        return float(self.model.thresholds[point]), point

    # -- enrolment ------------------------------------------------------------------------
    def enroll(self, user_id: str, videos: Sequence[str | os.PathLike | LipClip], *, passphrase: str | None = None) -> Template:
        """Make `user_id`'s template from several clips. If any clip fails to acquire, nothing
        is stored and FailureToEnrol names every failing clip and why."""
        _check_user_id(user_id)
        if len(videos) < self.min_enrol_clips:
            raise FailureToEnrol(f"enrolment needs at least {self.min_enrol_clips} clips, got {len(videos)}")
        clips, problems = [], []
        for v in videos:
            try:
                clips.append(self.model.clip(v))
            except LipauthError as exc:
                problems.append(f"{_name(v)}: {exc}")
        if problems:
            raise FailureToEnrol(f"failure to enrol {user_id!r}: " + "; ".join(problems))
        # the real face crops are kept (as liveness embeddings) so that later probes can be
        # compared with this user's own bona fide presentations
        face_refs = self._face_references(clips)
        face_model = self.checks.face.id if face_refs is not None else None
        template = Template.from_embeddings(user_id, self.model.embedder.embed_clips(clips), self.model.id, passphrase, face_refs, face_model)
        self.store.put(template)  # one transaction: all or nothing
        return template

    # -- verification ---------------------------------------------------------------------
    def _face_references(self, clips: list[LipClip]):
        """Liveness embeddings of the enrolment clips' face crops, or None (no crops, or no
        liveness model): enrolment never fails for want of the optional checks."""
        if not any("face_crops" in c.extra for c in clips):
            return None
        try:
            return self.checks.face_references(clips)
        except LipauthError:
            return None

    @property
    def checks(self) -> PresentationChecks:
        if self._checks is None:
            self._checks = PresentationChecks.load()
        return self._checks

    def verify(
        self, user_id: str, video: str | os.PathLike | LipClip, *, passphrase: str | None = None, liveness: bool = False, require_audio: bool = False
    ) -> Decision:
        """1:1 verification. liveness=True also runs the presentation-attack checks (AV
        synchrony where the video has audio, face liveness); the claim is accepted only if
        the score reaches the threshold and every check that ran passed. require_audio (with
        liveness) fails a video that has no audio track rather than skipping AV synchrony."""
        if require_audio and not liveness:
            raise InvalidInputError("require_audio is a liveness setting: ask for liveness too")
        template = self.store.get(user_id)  # UnknownUserError before any video work
        self._check_model(template)
        clip = self.model.clip(video)
        probe = self.model.embedder.embed_clips([clip])[0]
        score = float(template.mean @ probe)
        threshold, how = self.threshold_for(template)
        accepted = score >= threshold
        reasons = [f"score {score:.3f} {'>=' if accepted else '<'} threshold {threshold:.3f} ({how})"]
        if template.passphrase is not None and passphrase is not None and passphrase != template.passphrase:
            accepted = False
            reasons.append("the claimed passphrase differs from the enrolled one")
        checks: list[Check] = []
        if liveness:
            checks, notes = self.checks.run(clip, template.face_refs, template.face_refs_model, require_audio=require_audio)
            reasons += notes
            for c in checks:
                reasons.append(f"{c.name}: {c.score:.3f} {'>=' if c.passed else '<'} {c.threshold:.3f}, {'passed' if c.passed else 'FAILED'} ({c.detail})")
            accepted = accepted and all(c.passed for c in checks)
        return Decision(
            user=user_id, score=score, threshold=threshold, accepted=accepted, llr=self.model.llr(score), operating_point=self.operating_point, reasons=reasons, checks=checks
        )

    def threshold_for(self, template: Template) -> tuple[float, str]:
        """The cosine threshold this user's probes must reach, and how it was set."""
        own = template.self_similarity if self.offset is not None else None
        if own is None:
            return self.threshold, self.operating_point
        return own + self.offset, f"{self.operating_point}, enrolment-normalised: self-similarity {own:.3f} {self.offset:+.3f}"

    def identify(self, video: str | os.PathLike | LipClip, k: int = 5) -> list[tuple[str, float, bool]]:
        """The k enrolled users most like the probe: (user, score, above threshold), best first."""
        templates = [t for t in self.store.templates() if t.model_id == self.model.id]
        if not templates:
            return []
        probe = self.model.embed(video)
        scores = np.array([t.mean @ probe for t in templates])
        thresholds = np.array([self.threshold_for(t)[0] for t in templates])
        order = np.argsort(-(scores - thresholds))[:k]  # by margin over each user's own threshold
        return [(templates[i].user_id, float(scores[i]), bool(scores[i] >= thresholds[i])) for i in order]

    def delete(self, user_id: str) -> None:
        self.store.delete(user_id)

    def _check_model(self, template: Template) -> None:
        if template.model_id != self.model.id:
            raise InvalidInputError(f"user {template.user_id!r} was enrolled with another model ({template.model_id}); enrol again with this one ({self.model.id})")


def _check_user_id(user_id: str) -> None:
    if not isinstance(user_id, str) or not user_id.strip() or len(user_id) > 256 or any(c in user_id for c in "\x00\n\r/"):
        raise InvalidInputError(f"user id must be 1-256 characters without '/', NUL or line breaks, got {user_id!r}")


def _name(v) -> str:
    return v.meta.clip_id if isinstance(v, LipClip) else os.fspath(v)

