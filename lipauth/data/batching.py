"""LipClips -> the tensors models take: {"video": (B, C, T, H, W), "landmarks": (B, T, 2K)}."""

from __future__ import annotations

import numpy as np
import torch

from lipauth.data.clip import LipClip

# normalize="dataset": one fixed intensity scaling, so a clip's absolute brightness and lip
# colour reach the model. normalize="clip": each clip standardised to zero mean and unit
# variance, so session lighting cannot be used and only shape, texture and motion remain.
PIXEL_MEAN, PIXEL_STD = 0.45, 0.25
NORMALIZE = ("dataset", "clip")


def fit_length(n: int, length: int, rng: np.random.Generator | None) -> np.ndarray:
    """Frame indices that crop (random offset if rng, else centred) or pad (repeating the
    last frame) a clip of n frames to `length`."""
    if n >= length:
        start = int(rng.integers(0, n - length + 1)) if rng is not None else (n - length) // 2
        return np.arange(start, start + length)
    return np.concatenate([np.arange(n), np.full(length - n, n - 1)])


def to_batch(
    clips: list[LipClip], *, length: int | None = None, rng: np.random.Generator | None = None, landmarks: bool = False, normalize: str = "dataset"
) -> dict[str, torch.Tensor]:
    """Stack clips into a batch. Without `length`, every clip must have the same n_frames."""
    if length is None:
        lengths = {c.n_frames for c in clips}
        if len(lengths) != 1:
            raise ValueError(f"clips of different lengths {sorted(lengths)} need a common `length`")
        length = lengths.pop()
    videos, lms = [], []
    for clip in clips:
        idx = fit_length(clip.n_frames, length, rng)
        frames = clip.frames[idx].astype(np.float32) / 255.0
        frames = frames[None] if frames.ndim == 3 else frames.transpose(3, 0, 1, 2)  # (C, T, H, W)
        if normalize == "clip":
            videos.append((frames - frames.mean()) / max(float(frames.std()), 1e-3))
        else:
            videos.append((frames - PIXEL_MEAN) / PIXEL_STD)
        if landmarks:
            lms.append((clip.landmarks[idx] - 0.5).reshape(length, -1))
    batch = {"video": torch.from_numpy(np.stack(videos))}
    if landmarks:
        batch["landmarks"] = torch.from_numpy(np.stack(lms).astype(np.float32))
    return batch
