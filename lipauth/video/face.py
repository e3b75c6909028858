"""Face pictures from the landmarks the pipeline already has, with no second detection.

Face crops for face liveness: the lip points fix the face's scale and position well enough
for a 64x64 crop (a face is about 2.8 mouth widths across, with the mouth three quarters
of the way down), which keeps liveness independent of the landmark backend.

Aligned face chips for the face encoder: dlib's own alignment (get_face_chip, 150x150,
padding 0.25) from the 68 points dlib's backend fits, which is what its ResNet encoder was
trained on.
"""

from __future__ import annotations

import cv2
import numpy as np

FACE_SCALE = 2.8  # face crop side / mouth width
MOUTH_DOWN = 0.72  # the mouth's height in the crop, as a fraction from the top


def face_boxes(points: np.ndarray) -> np.ndarray:
    """(T, 4) square face boxes x0, y0, x1, y1 from (T, K, 2) lip points in frame pixels."""
    width = points[..., 0].max(axis=1) - points[..., 0].min(axis=1)
    side = FACE_SCALE * np.maximum(width, 4.0)
    cx, cy = points[..., 0].mean(axis=1), points[..., 1].mean(axis=1)
    y0 = cy - MOUTH_DOWN * side
    return np.stack([cx - side / 2, y0, cx + side / 2, y0 + side], axis=1).astype(np.float32)


def spread_frames(n_frames: int, n: int) -> np.ndarray:
    """Indices of up to n frames spread evenly over a clip of n_frames, first and last
    included; one frame is the middle one."""
    if n == 1 and n_frames:
        return np.array([(n_frames - 1) // 2])
    return np.unique(np.linspace(0, n_frames - 1, min(n, n_frames)).round().astype(int))


def face_crops(frames: np.ndarray, points: np.ndarray, n: int = 8, size: int = 64) -> np.ndarray:
    """(n, size, size, 3) uint8 RGB face crops from n frames spread over the clip; parts of
    a box outside the frame are filled by replicating the border."""
    idx = spread_frames(len(frames), n)
    boxes = face_boxes(points[idx])
    out = []
    for i, (x0, y0, x1, y1) in zip(idx, boxes):
        scale = size / (x1 - x0)
        m = np.array([[scale, 0, -x0 * scale], [0, scale, -y0 * scale]], np.float32)
        out.append(cv2.warpAffine(frames[i], m, (size, size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE))
    return np.stack(out).astype(np.uint8)


CHIP_SIZE = 150  # dlib's face encoder takes 150x150 chips aligned by get_face_chip


def face_chip_frames(face_points: np.ndarray, n: int) -> np.ndarray:
    """Indices of up to n frames spread over those where the face was fitted (not gap-filled)."""
    found = np.flatnonzero(~np.isnan(face_points).any(axis=(1, 2)))
    return found[spread_frames(len(found), n)] if len(found) else found


def aligned_face_chips(frames: np.ndarray, face_points: np.ndarray) -> np.ndarray:
    """(n, 150, 150, 3) uint8 RGB chips of (n, H, W, 3) RGB frames, aligned by dlib from
    their (n, 68, 2) face points."""
    import dlib

    chips = []
    for frame, pts in zip(frames, face_points):
        x0, y0 = pts.min(axis=0)
        x1, y1 = pts.max(axis=0)
        shape = dlib.full_object_detection(dlib.rectangle(int(x0), int(y0), int(x1), int(y1)), [dlib.point(int(round(x)), int(round(y))) for x, y in pts])
        chips.append(dlib.get_face_chip(np.ascontiguousarray(frame), shape, size=CHIP_SIZE, padding=0.25))
    return np.stack(chips) if chips else np.zeros((0, CHIP_SIZE, CHIP_SIZE, 3), np.uint8)
