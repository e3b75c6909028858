"""Presentation-attack checks behind one protocol.

A check registers by name (as corpora and models do), keeps its own enrolment state (a
JSON-able dict the template stores without reading it) and, given a probe clip, returns
passed, failed or not run, with its score, threshold and reason. Adding a check is one new
module that registers itself, plus its name in CHECKS' built-in list.

    checks = PresentationChecks.load()                 # every registered check, bundled models
    state = checks.enrol(enrolment_clips)              # {"face_liveness": {...}, ...}
    results, skipped = checks.run(probe_clip, state)   # what ran, and those that could not (with why)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from lipauth.clip import LipClip
from lipauth.errors import InvalidInputError
from lipauth.registry import Registry

PASSED, FAILED, NOT_RUN = "passed", "failed", "not_run"

CHECKS = Registry("presentation-attack check", ("lipauth.pad.av_sync_check", "lipauth.pad.face_texture_check", "lipauth.pad.face_liveness_check", "lipauth.pad.motion_check"))
register_check = CHECKS.register
#: the order checks run and are reported in
DEFAULT_CHECKS = ("av_sync", "face_liveness", "motion")


@dataclass
class Check:
    """One check's outcome on one probe."""

    name: str
    score: float
    threshold: float
    passed: bool
    detail: str = ""
    status: str = ""  # passed / failed / not_run; derived from `passed` where not given
    extra: dict[str, Any] = field(default_factory=dict)  # what the check measured beyond its score

    def __post_init__(self) -> None:
        self.status = self.status or (PASSED if self.passed else FAILED)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def not_run(name: str, reason: str) -> Check:
    return Check(name, float("nan"), float("nan"), False, reason, status=NOT_RUN)


class PresentationCheck(Protocol):
    name: str
    model_id: str  # enrolment state is only used with the model that made it

    def enrol(self, clips: list[LipClip]) -> dict | None:
        """This check's state from a user's enrolment clips (JSON-able), or None."""

    def run(self, clip: LipClip, state: dict | None, *, require_audio: bool = False) -> Check:
        """The probe against the user's enrolled state (None: nothing enrolled)."""


def create_check(name: str, model_path: str | Path | None = None) -> PresentationCheck:
    """A registered check with its model file (None: the one bundled with lipauth)."""
    return CHECKS.get(name)(model_path)


class PresentationChecks:
    """The checks a verification runs, in order."""

    def __init__(self, checks: list[PresentationCheck]) -> None:
        names = [c.name for c in checks]
        if len(set(names)) != len(names):
            raise InvalidInputError(f"each check may run once, got {names}")
        self.checks = list(checks)

    @classmethod
    def load(cls, names: tuple[str, ...] = DEFAULT_CHECKS, model_paths: dict[str, str | Path | None] | None = None) -> "PresentationChecks":
        paths = model_paths or {}
        return cls([create_check(n, paths.get(n)) for n in names])

    def __getitem__(self, name: str) -> PresentationCheck:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(name)

    def enrol(self, clips: list[LipClip], *, skip=()) -> dict[str, dict]:
        """Every check's enrolment state; a check with nothing to keep is left out, and so
        are the checks named in `skip` (state the template already holds)."""
        return {c.name: s for c in self.checks if c.name not in skip and (s := c.enrol(clips)) is not None}

    def run(self, clip: LipClip, state: dict[str, dict] | None = None, *, require_audio: bool = False) -> tuple[list[Check], list[Check]]:
        """The checks that ran (passed or failed), and those that could not (status not_run,
        the reason in `detail`)."""
        state = state or {}
        ran, skipped = [], []
        for c in self.checks:
            r = c.run(clip, state.get(c.name), require_audio=require_audio)
            (skipped if r.status == NOT_RUN else ran).append(r)
        return ran, skipped
