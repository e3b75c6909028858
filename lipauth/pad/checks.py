"""The presentation-attack checks a verification can run, each reported with its score and
threshold: AV synchrony where the clip has audio, face liveness where it has face crops."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lipauth.artifacts import LIVENESS_MODEL, SYNC_MODEL, bundled
from lipauth.clip import LipClip
from lipauth.features.mfcc import has_audio
from lipauth.errors import LipauthError
from lipauth.pad.avsync import SyncModel
from lipauth.pad.liveness import LivenessModel



@dataclass
class Check:
    name: str
    score: float
    threshold: float
    passed: bool
    detail: str = ""


class PresentationChecks:
    """Holds the PAD models; `run` gives one Check per check that could run, and the
    reasons why the others did not."""

    def __init__(self, sync: SyncModel | None = None, face: LivenessModel | None = None, *, face_point: str = "midpoint") -> None:
        self.sync = sync
        self.face = face
        self.face_point = face_point

    @classmethod
    def load(cls, sync_path: str | Path | None = None, face_path: str | Path | None = None) -> "PresentationChecks":
        """The given model files, else the ones bundled with lipauth."""
        return cls(SyncModel.load(sync_path or bundled(SYNC_MODEL)), LivenessModel.load(face_path or bundled(LIVENESS_MODEL)))

    def face_references(self, clips: list[LipClip]) -> np.ndarray | None:
        """Liveness embeddings of the real face crops of enrolment clips (None without any)."""
        crops = [c.extra["face_crops"] for c in clips if isinstance(c.extra.get("face_crops"), np.ndarray)]
        if self.face is None or not crops:
            return None
        return self.face.embed(np.concatenate(crops))

    def run(
        self, clip: LipClip, face_refs: np.ndarray | None = None, face_refs_model: str | None = None, *, require_audio: bool = False
    ) -> tuple[list[Check], list[str]]:
        """face_refs: the user's enrolled liveness embeddings, made by the liveness model
        `face_refs_model`; from another model they are not comparable and are not used.
        require_audio: a video without audio fails AV synchrony instead of skipping it (else
        removing the audio track of a dubbed video gets it past the check)."""
        checks, notes = [], []
        if face_refs is not None and self.face is not None and face_refs_model != self.face.id:
            notes.append("the enrolled face crops were embedded by another liveness model: compared with the model's reference instead (enrol again to use them)")
            face_refs = None
        if self.sync is not None:
            if has_audio(clip):
                try:
                    r = self.sync.analyse(clip)
                    thr = float(self.sync.threshold)
                    checks.append(Check("av_sync", r.score, thr, r.score >= thr, f"best audio offset {r.best_offset:+d} frames, confidence {r.confidence:.2f}"))
                except LipauthError as exc:
                    checks.append(Check("av_sync", 0.0, float(self.sync.threshold), False, f"could not be run, so failed: {exc}"))
            elif require_audio:
                checks.append(Check("av_sync", 0.0, float(self.sync.threshold), False, "required, but the video has no audio track"))
            else:
                notes.append("AV synchrony not run: the video has no audio track")
        if self.face is not None:
            crops = clip.extra.get("face_crops")
            if isinstance(crops, np.ndarray) and len(crops):
                key = self.face_point if face_refs is not None else f"generic_{self.face_point}"
                thr = float(self.face.thresholds[key])
                how = "the enrolled face crops" if face_refs is not None else "the model's bona fide reference (no face crops enrolled)"
                s = self.face.score(crops, face_refs)
                checks.append(Check("face_liveness", s, thr, s >= thr, f"compared with {how}"))
            else:
                notes.append("face liveness not run: the clip carries no face crops (only videos processed by lipauth do)")
        return checks, notes
