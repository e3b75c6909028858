"""AV synchrony as a presentation-attack check: does the voice come from the mouth on the
video (lipauth.pad.avsync)? Keeps no enrolment state: synchrony is the probe's own."""

from __future__ import annotations

from pathlib import Path

from lipauth.artifacts import SYNC_MODEL, bundled
from lipauth.clip import LipClip
from lipauth.errors import LipauthError
from lipauth.features.mfcc import has_audio
from lipauth.pad.avsync import SyncModel
from lipauth.pad.checks import Check, not_run, register_check


class AVSyncCheck:
    name = "av_sync"

    def __init__(self, model: SyncModel) -> None:
        self.model = model
        self.model_id = model.id

    @property
    def threshold(self) -> float:
        return float(self.model.threshold)

    def enrol(self, clips: list[LipClip]) -> None:
        return None

    def run(self, clip: LipClip, state: dict | None = None, *, require_audio: bool = False) -> Check:
        """require_audio: a video without audio fails instead of skipping the check (else
        removing the audio track of a dubbed video gets it past)."""
        if not has_audio(clip):
            if require_audio:
                return Check(self.name, 0.0, self.threshold, False, "required, but the video has no audio track")
            return not_run(self.name, "the video has no audio track")
        try:
            r = self.model.analyse(clip)
        except LipauthError as exc:
            return Check(self.name, 0.0, self.threshold, False, f"could not be run, so failed: {exc}")
        detail = f"best audio offset {r.best_offset:+d} frames, confidence {r.confidence:.2f}"
        return Check(self.name, r.score, self.threshold, r.score >= self.threshold, detail, extra=r.to_dict())


@register_check("av_sync")
def av_sync_check(model_path: str | Path | None = None) -> AVSyncCheck:
    return AVSyncCheck(SyncModel.load(model_path or bundled(SYNC_MODEL)))
