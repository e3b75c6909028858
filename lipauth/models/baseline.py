"""A non-learned reference: PCA on per-clip mean and standard-deviation frames, cosine scored.

It sees how the mouth looks on average and how much each pixel varies while speaking, but no
temporal order, so it shows what the learned models add.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
from sklearn.decomposition import PCA

from lipauth.clip import LipClip
from lipauth.clip import CropSpec


def clip_features(clip: LipClip, normalize: str = "dataset") -> np.ndarray:
    f = clip.frames.astype(np.float32) / 255.0
    if normalize == "clip":  # remove the clip's overall brightness and contrast
        f = (f - f.mean()) / max(float(f.std()), 1e-3)
    return np.concatenate([f.mean(axis=0).ravel(), f.std(axis=0).ravel()])


@dataclass
class PCABaseline:
    crop: CropSpec
    n_components: int = 64
    whiten: bool = True
    normalize: str = "dataset"
    model_name: str = "pca_baseline"
    thresholds: dict[str, float] = field(default_factory=dict)
    calibration: dict[str, float] | None = None
    verify_thresholds: dict[str, Any] = field(default_factory=dict)  # none fitted: the policy falls back to `thresholds`
    fusion: dict[str, Any] | None = None  # a baseline fuses nothing
    info: dict[str, Any] = field(default_factory=dict)

    def fit(self, clips: Sequence[LipClip]) -> "PCABaseline":
        x = np.stack([clip_features(c, self.normalize) for c in clips])
        self.pca = PCA(n_components=min(self.n_components, len(clips) - 1), whiten=self.whiten, random_state=0).fit(x)
        return self

    def embed_clips(self, clips: Sequence[LipClip], batch_size: int = 0) -> np.ndarray:
        z = self.pca.transform(np.stack([clip_features(c, self.normalize) for c in clips]))
        return (z / np.linalg.norm(z, axis=1, keepdims=True)).astype(np.float32)
