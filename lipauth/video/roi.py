"""Lip region of interest: landmarks -> a padded, aspect-corrected, smoothed box -> a crop.

The box is sized from the lip landmarks with padding, widened or heightened to the target
aspect ratio (so resizing never distorts the mouth), and smoothed over time: the centre
lightly, so the crop does not jitter, and the size strongly, so the mouth opening while
speaking shows as motion inside a steady frame rather than as a zoom.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.ndimage import gaussian_filter1d

from lipauth.clip import CropSpec
from lipauth.errors import InvalidInputError


def lip_boxes(points: np.ndarray, spec: CropSpec) -> np.ndarray:
    """(T, K, 2) lip landmarks in frame pixels -> (T, 4) float boxes x0, y0, x1, y1."""
    if points.ndim != 3 or points.shape[2] != 2 or np.isnan(points).any():
        raise InvalidInputError(f"lip points must be a NaN-free (T, K, 2) array, got shape {points.shape}")
    lo, hi = points.min(axis=1), points.max(axis=1)
    centre = (lo + hi) / 2
    w = (hi[:, 0] - lo[:, 0]) * (1 + 2 * spec.padding)
    h = (hi[:, 1] - lo[:, 1]) * (1 + 2 * spec.padding)
    # Grow the short side so that the box has the target aspect ratio.
    w = np.maximum(w, h * spec.aspect)
    if len(w) > 1:
        centre = gaussian_filter1d(centre, spec.center_sigma, axis=0, mode="nearest") if spec.center_sigma > 0 else centre
        w = gaussian_filter1d(w, spec.size_sigma, mode="nearest") if spec.size_sigma > 0 else w
    w = np.maximum(w, 2.0)
    h = w / spec.aspect
    return np.stack([centre[:, 0] - w / 2, centre[:, 1] - h / 2, centre[:, 0] + w / 2, centre[:, 1] + h / 2], axis=1).astype(np.float32)


def crop_frames(frames: np.ndarray, boxes: np.ndarray, spec: CropSpec) -> np.ndarray:
    """Cut each box out of its frame (replicating the border where it leaves the frame) and
    resize it to the target size. Returns (T, H, W) grey or (T, H, W, 3) RGB uint8."""
    if len(frames) != len(boxes):
        raise InvalidInputError(f"{len(frames)} frames but {len(boxes)} boxes")
    out = [crop_one(frame, box, spec) for frame, box in zip(frames, boxes)]
    return np.stack(out)


def crop_one(frame: np.ndarray, box: np.ndarray, spec: CropSpec) -> np.ndarray:
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    h, w = frame.shape[:2]
    pad = max(0, -x0, -y0, x1 - w, y1 - h)
    if pad:
        frame = cv2.copyMakeBorder(frame, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        x0, y0, x1, y1 = x0 + pad, y0 + pad, x1 + pad, y1 + pad
    region = frame[y0:y1, x0:x1]
    if spec.color == "grey" and region.ndim == 3:
        region = cv2.cvtColor(region, cv2.COLOR_RGB2GRAY)
    # INTER_AREA averages when shrinking (no aliasing); a box smaller than the target is rare.
    interp = cv2.INTER_AREA if region.shape[1] >= spec.width else cv2.INTER_LINEAR
    return cv2.resize(region, (spec.width, spec.height), interpolation=interp)


def normalise_to_boxes(points: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Frame-pixel landmarks -> coordinates in their crop, (0, 0) top-left, (1, 1) bottom-right."""
    origin = boxes[:, None, :2]
    extent = (boxes[:, 2:] - boxes[:, :2])[:, None, :]
    return ((points - origin) / extent).astype(np.float32)


def denormalise_from_boxes(landmarks: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Inverse of `normalise_to_boxes`."""
    origin = boxes[:, None, :2]
    extent = (boxes[:, 2:] - boxes[:, :2])[:, None, :]
    return (landmarks * extent + origin).astype(np.float32)


def fit_crop_to_aspect(frames: np.ndarray, spec: CropSpec) -> np.ndarray:
    """For corpora that ship lip crops already (AVLetters): trim the centre to the target
    aspect ratio, then resize, so a 80x60 crop becomes e.g. 30x18 without distortion."""
    t, h, w = frames.shape[:3]
    if w / h > spec.aspect:
        new_w = int(round(h * spec.aspect))
        x0 = (w - new_w) // 2
        frames = frames[:, :, x0 : x0 + new_w]
    else:
        new_h = int(round(w / spec.aspect))
        y0 = (h - new_h) // 2
        frames = frames[:, y0 : y0 + new_h]
    if frames.ndim == 4 and spec.color == "grey":
        frames = np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames])
    elif frames.ndim == 3 and spec.color == "rgb":
        frames = np.repeat(frames[..., None], 3, axis=-1)
    interp = cv2.INTER_AREA if frames.shape[2] >= spec.width else cv2.INTER_LINEAR
    return np.stack([cv2.resize(np.ascontiguousarray(f), (spec.width, spec.height), interpolation=interp) for f in frames])
