"""WhisperNet v1: a LipNet-style spatio-temporal CNN on lip crops plus a landmark-sequence
branch, fused into one embedding (after the authors' notebook).

    video:     Conv3D 32 (3,5,5) -> 64 (3,5,5) -> 96 (3,3,3), each + BN, ReLU, spatial
               max-pool /2 and dropout; then 2 x BiGRU-256, averaged over time  -> 512
    landmarks: per-frame Dense 64 -> Dense 64, then LSTM-64, averaged over time -> 64
    head:      concat -> BatchNorm -> Dense 512 -> ReLU -> Dense `embedding_dim`, L2-normalised

`use_video` / `use_landmarks` switch the branches for the video-only and landmarks-only
ablations.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from lipauth.errors import InvalidInputError
from lipauth.models.registry import register_model


class VideoBranch(nn.Module):
    def __init__(self, channels: int, height: int, width: int, dropout: float, gru_hidden: int = 256) -> None:
        super().__init__()
        layers = []
        c_in = channels
        for c_out, k in ((32, (3, 5, 5)), (64, (3, 5, 5)), (96, (3, 3, 3))):
            layers += [
                nn.Conv3d(c_in, c_out, k, padding=tuple(s // 2 for s in k), bias=False),
                nn.BatchNorm3d(c_out),
                nn.ReLU(inplace=True),
                nn.MaxPool3d((1, 2, 2), ceil_mode=True),
                nn.Dropout3d(dropout),
            ]
            c_in = c_out
        self.cnn = nn.Sequential(*layers)
        h, w = height, width
        for _ in range(3):
            h, w = -(-h // 2), -(-w // 2)
        self.gru = nn.GRU(96 * h * w, gru_hidden, num_layers=2, batch_first=True, bidirectional=True, dropout=dropout)
        self.out_dim = 2 * gru_hidden

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        x = self.cnn(video)  # (B, 96, T, h, w)
        x = x.permute(0, 2, 1, 3, 4).flatten(2)  # (B, T, 96*h*w)
        x, _ = self.gru(x)
        return x.mean(dim=1)


class LandmarkBranch(nn.Module):
    def __init__(self, n_points: int, hidden: int = 64) -> None:
        super().__init__()
        self.frame = nn.Sequential(nn.Linear(2 * n_points, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, hidden), nn.ReLU(inplace=True))
        self.lstm = nn.LSTM(hidden, hidden, batch_first=True)
        self.out_dim = hidden

    def forward(self, landmarks: torch.Tensor) -> torch.Tensor:
        x, _ = self.lstm(self.frame(landmarks))
        return x.mean(dim=1)


@register_model("whispernet_v1")
class WhisperNetV1(nn.Module):
    def __init__(
        self,
        *,
        width: int = 30,
        height: int = 18,
        channels: int = 1,
        n_landmarks: int = 24,
        embedding_dim: int = 256,
        dropout: float = 0.3,
        use_video: bool = True,
        use_landmarks: bool = True,
    ) -> None:
        super().__init__()
        if not (use_video or use_landmarks):
            raise InvalidInputError("whispernet_v1 needs at least one of use_video, use_landmarks")
        self.uses_landmarks = use_landmarks
        self.video = VideoBranch(channels, height, width, dropout) if use_video else None
        self.landmarks = LandmarkBranch(n_landmarks) if use_landmarks else None
        fused = (self.video.out_dim if self.video else 0) + (self.landmarks.out_dim if self.landmarks else 0)
        self.head = nn.Sequential(nn.BatchNorm1d(fused), nn.Linear(fused, 512), nn.ReLU(inplace=True), nn.Dropout(dropout), nn.Linear(512, embedding_dim))

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        parts = []
        if self.video is not None:
            parts.append(self.video(batch["video"]))
        if self.landmarks is not None:
            if batch.get("landmarks") is None:
                raise InvalidInputError("this model's landmark branch needs clips with landmarks (AVLetters has none: use use_landmarks=false)")
            parts.append(self.landmarks(batch["landmarks"]))
        return F.normalize(self.head(torch.cat(parts, dim=1)), dim=1)
