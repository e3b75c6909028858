"""LipClips -> the tensors models take: {"video": (B, C, T, H, W), "landmarks": (B, T, 2K)}."""

from __future__ import annotations

import numpy as np
import torch

from lipauth.clip import LipClip
from lipauth.features.mfcc import video_aligned_features

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
    clips: list[LipClip], *, length: int | None = None, rng: np.random.Generator | None = None, landmarks: bool = False, normalize: str = "dataset", audio: bool = False
) -> dict[str, torch.Tensor]:
    """Stack clips into a batch. Without `length`, every clip must have the same n_frames.
    audio=True adds "audio": (B, 39, 2*length-1) MFCC + deltas + delta-deltas over the same
    frames as the video (see `video_aligned_features`)."""
    if length is None:
        lengths = {c.n_frames for c in clips}
        if len(lengths) != 1:
            raise ValueError(f"clips of different lengths {sorted(lengths)} need a common `length`")
        length = lengths.pop()
    videos, lms, sounds = [], [], []
    for clip in clips:
        idx = fit_length(clip.n_frames, length, rng)
        if audio:  # feature 2t is video frame t's; the frames between come along
            feats = video_aligned_features(clip, cmvn=False).reshape(2 * clip.n_frames - 1, -1)  # the voice is in the mean
            pos = np.minimum(np.repeat(2 * idx, 2)[:-1] + np.tile([0, 1], length)[:-1], len(feats) - 1)
            sounds.append(feats[pos].T)
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
    if audio:
        batch["audio"] = torch.from_numpy(np.stack(sounds).astype(np.float32))
    return batch
