"""Video that does not live: a still frame, a frozen clip, a photo moved in front of the
camera. Two measures with no training and two numbers, from what the pipeline already has:

- articulation: the mouth changing shape. Each frame's lip points (in frame pixels) are
  aligned to their mean shape with a similarity transform (Procrustes: translation, scale,
  rotation removed), so a printed face moved, turned or zoomed keeps a still shape; the top 3
  principal components of what is left, smoothed over 3 frames (tracker jitter is frame to
  frame, speech is not), give the shape's RMS change. A photo leaves only jitter.
- frozen: 32x32 thumbnails of every whole frame; the longest run of consecutive frames whose
  mean difference stays under STILL_STEP grey levels (what a re-encoded still picture leaves),
  as a share of the clip. A living scene never stands that still for long, even in a pause.

A clip passes when it articulates at least MIN_ARTICULATION and is frozen for less than
MAX_FROZEN of its length. Both thresholds were set on the shared clips and attacks built
from them (benchmarks/still_video.py, docs/pad.md), so they are not held-out figures. A
loop of live footage is not seen here (it moves and does not freeze): the spoken challenge
and AV synchrony are what a replayed loop must beat.
"""

from __future__ import annotations

import numpy as np

from lipauth.clip import LipClip
from lipauth.pad.checks import Check, not_run, register_check
from lipauth.video.roi import denormalise_from_boxes

MIN_ARTICULATION = 0.03  # RMS of the smoothed shape change, in units of the mouth's size
MAX_FROZEN = 0.2  # the longest frozen run, as a share of the clip
STILL_STEP = 0.1  # grey levels: two thumbnails closer than this are one picture
MIN_FRAMES = 10


def articulation(points: np.ndarray) -> float:
    """RMS change of the mouth's shape once position, size and rotation are removed, smoothed
    over 3 frames, on the top 3 principal components."""
    p = points - points.mean(axis=1, keepdims=True)
    p = p / np.maximum(np.sqrt((p**2).sum(axis=(1, 2), keepdims=True)), 1e-9)
    ref = p.mean(axis=0)
    aligned = []
    for q in p:  # the rotation that best maps q onto the mean shape
        u, _, vt = np.linalg.svd(q.T @ ref)
        aligned.append(q @ (u @ vt))
    a = np.stack(aligned).reshape(len(p), -1)
    u, s, _ = np.linalg.svd(a - a.mean(axis=0), full_matrices=False)
    top = u[:, :3] * s[:3]
    kernel = np.ones(3) / 3
    smooth = np.stack([np.convolve(top[:, k], kernel, "valid") for k in range(top.shape[1])], axis=1)
    return float(np.sqrt((smooth**2).sum(axis=1).mean()))


def frozen_share(thumbnails: np.ndarray) -> float:
    """The longest run of consecutive frames that do not change (thumbnail steps under
    STILL_STEP), as a share of the clip's steps."""
    flat = thumbnails.reshape(len(thumbnails), -1).astype(np.float32)
    still = np.abs(np.diff(flat, axis=0)).mean(axis=1) < STILL_STEP
    longest = run = 0
    for s in still:
        run = run + 1 if s else 0
        longest = max(longest, run)
    return longest / max(len(still), 1)


class MotionCheck:
    name = "motion"
    model_id = "motion-v1"  # no model: the measures and thresholds above

    def enrol(self, clips: list[LipClip]) -> None:
        return None

    def run(self, clip: LipClip, state: dict | None = None, *, require_audio: bool = False) -> Check:
        thumbnails = clip.views.thumbnails
        if clip.landmarks is None or clip.boxes is None or thumbnails is None:
            return not_run(self.name, "the clip carries no tracked lips and thumbnails (only videos processed by lipauth do)")
        if clip.n_frames < MIN_FRAMES:
            return not_run(self.name, f"{clip.n_frames} frames: at least {MIN_FRAMES} needed to see motion")
        moves, frozen = articulation(denormalise_from_boxes(clip.landmarks, clip.boxes)), frozen_share(np.asarray(thumbnails))
        passed = moves >= MIN_ARTICULATION and frozen < MAX_FROZEN
        detail = f"mouth articulation {moves:.3f} ({'>=' if moves >= MIN_ARTICULATION else '<'} {MIN_ARTICULATION}), frozen for {100 * frozen:.0f} % of the clip ({'<' if frozen < MAX_FROZEN else '>='} {100 * MAX_FROZEN:.0f} %)"
        return Check(self.name, moves, MIN_ARTICULATION, passed, detail, extra={"articulation": moves, "frozen_share": frozen})


@register_check("motion")
def motion_check(model_path=None) -> MotionCheck:
    return MotionCheck()
