"""Training-time augmentation of LipClips: temporal crop and speed, brightness/contrast and
small shifts. Landmarks move with the pixels."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from lipauth.clip import LipClip


@dataclass(frozen=True)
class AugmentSpec:
    speed: tuple[float, float] = (0.85, 1.15)
    brightness: float = 0.1  # +- fraction of the full range
    contrast: float = 0.15  # +- fraction
    shift: int = 2  # +- pixels

    @classmethod
    def from_dict(cls, d: dict | None) -> "AugmentSpec | None":
        if d is None or d is False:
            return None
        d = dict(d)
        if "speed" in d:
            d["speed"] = tuple(d["speed"])
        return cls(**d)


def augment(clip: LipClip, spec: AugmentSpec, rng: np.random.Generator) -> LipClip:
    t = clip.n_frames
    # speed: resample the frame indices (nearest), so a faster talker is simulated
    factor = rng.uniform(*spec.speed)
    idx = np.clip(np.round(np.arange(0, t, factor)).astype(int), 0, t - 1)
    frames = clip.frames[idx].astype(np.float32)
    landmarks = clip.landmarks[idx] if clip.landmarks is not None else None
    # photometric
    c = 1 + rng.uniform(-spec.contrast, spec.contrast)
    b = 255 * rng.uniform(-spec.brightness, spec.brightness)
    mean = frames.mean()
    frames = np.clip((frames - mean) * c + mean + b, 0, 255)
    # small shift, edge pixels repeated
    if spec.shift:
        dx, dy = (int(v) for v in rng.integers(-spec.shift, spec.shift + 1, size=2))
        frames = _shift(frames, dx, dy)
        if landmarks is not None:
            h, w = frames.shape[1:3]
            landmarks = landmarks + np.array([dx / w, dy / h], np.float32)
    return replace(clip, frames=frames.astype(np.uint8), landmarks=landmarks, boxes=None, audio=None, audio_features=None, extra={})


def _shift(frames: np.ndarray, dx: int, dy: int) -> np.ndarray:
    pad = [(0, 0), (max(dy, 0), max(-dy, 0)), (max(dx, 0), max(-dx, 0))] + [(0, 0)] * (frames.ndim - 3)
    padded = np.pad(frames, pad, mode="edge")
    h, w = frames.shape[1:3]
    y0, x0 = max(-dy, 0), max(-dx, 0)
    return padded[:, y0 : y0 + h, x0 : x0 + w]
