"""AV synchrony as a presentation-attack check: does the voice come from the mouth on the
video (lipauth.pad.avsync)?

Enrolment state: the user's capture skew. A camera and microphone are not recorded in
step: Chromium's fake devices put the audio 2 frames (80 ms) late, and so do some corpora
(the bundled network's best offset on genuine talking faces has median +2). Reading every
probe within +-2 frames of 0 lets those people through but lets a third of swapped dubs
through too (docs/pad.md). So the skew is learned per user instead: the offsets where the
enrolment clips agree (within a frame), if small, and each probe is scored at those offsets
only; a user enrolled without audio, or whose clips disagree, is scored at 0."""

from __future__ import annotations

from pathlib import Path

import numpy as np

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
        # files of the same network scored another way (a new score or threshold): the best
        # offsets, and so a skew learned with them, are the network's and still hold
        self.same_network = {model.id, *model.info.get("same_network_as", [])}

    @property
    def threshold(self) -> float:
        return float(self.model.threshold)

    def enrol(self, clips: list[LipClip]) -> dict | None:
        offsets = []
        for clip in clips:
            if has_audio(clip):
                try:
                    offsets.append(self.model.analyse(clip).best_offset)
                except LipauthError:
                    continue
        if not offsets:
            return None
        return {"model_id": self.model_id, "offsets": offsets, "skew": list(capture_skew(offsets))}

    def centres(self, state: dict | None) -> tuple[tuple[int, ...], str]:
        """The offsets a probe is scored at, and why."""
        if not state or state.get("model_id") not in self.same_network:
            return (0,), ""
        skew = tuple(int(o) for o in state.get("skew") or (0,))
        said = "/".join(f"{o:+d}" for o in skew)
        return skew, ("" if skew == (0,) else f", read at the user's capture skew {said} (from enrolment)")

    def run(self, clip: LipClip, state: dict | None = None, *, require_audio: bool = False) -> Check:
        """require_audio: a video without audio fails instead of skipping the check (else
        removing the audio track of a dubbed video gets it past)."""
        if not has_audio(clip):
            if require_audio:
                return Check(self.name, 0.0, self.threshold, False, "required, but the video has no audio track")
            return not_run(self.name, "the video has no audio track")
        centres, how = self.centres(state)
        try:
            r = self.model.analyse(clip, centres=centres)
        except LipauthError as exc:
            return Check(self.name, 0.0, self.threshold, False, f"could not be run, so failed: {exc}")
        detail = f"best audio offset {r.best_offset:+d} frames, confidence {r.confidence:.2f}{how}"
        return Check(self.name, r.score, self.threshold, r.score >= self.threshold, detail, extra=r.to_dict())


#: the largest skew a user's enrolment may set, in frames (3: 120 ms at 25 fps); a larger
#: one is not capture but a fault in the recordings, and scoring there would favour dubs
MAX_SKEW = 3


def capture_skew(offsets: list[int]) -> tuple[int, ...]:
    """The enrolment clips' best offsets within a frame of their median, if that median is
    not 0, more than half the clips are there and all of those are at most MAX_SKEW from 0;
    else (0,). The median
    alone missed: one camera's clips gave +2, +3, +3 and its next probe +2."""
    values = np.asarray(offsets)
    median = int(np.round(np.median(values)))
    near = sorted({int(v) for v in values if abs(v - median) <= 1})
    agree = int((np.abs(values - median) <= 1).sum())
    if median == 0 or agree * 2 <= len(values) or any(abs(v) > MAX_SKEW for v in near):
        return (0,)  # in step (scored exactly as shipped), or no skew the clips agree on
    return tuple(near)


@register_check("av_sync")
def av_sync_check(model_path: str | Path | None = None) -> AVSyncCheck:
    return AVSyncCheck(SyncModel.load(model_path or bundled(SYNC_MODEL)))
