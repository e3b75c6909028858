"""The voice branch and the early-fusion lip + voice model.

voice: an x-vector-style network (Snyder et al. 2018) on MFCC + delta + delta-delta frames:
dilated 1-D convolutions over time, mean and standard-deviation pooling, an embedding layer.
It takes the same clips as the lip models (AVLetters' shipped MFCCs, or MFCCs computed from
a video's audio track), so it trains, evaluates and cross-validates with the same tools.

lip_voice: early fusion. A WhisperNet v2 trunk and the voice network each embed the clip;
their embeddings are concatenated and projected to one joint embedding, trained end to end.
(Late fusion, the sum of the two models' scores, needs no model: see lipauth.eval.fusion.)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from lipauth.models.registry import register_model
from lipauth.models.slowfast import SlowFast

N_AUDIO_FEATURES = 39  # 13 statics x (value, delta, delta-delta)


class VoiceNet(nn.Module):
    def __init__(
        self,
        embedding_dim: int = 128,
        hidden: int = 128,
        dropout: float = 0.3,
        bn_neck: bool = True,
        # the video settings every model is given by the trainer; unused by the voice
        width: int | None = None,
        height: int | None = None,
        channels: int | None = None,
        n_landmarks: int | None = None,
    ) -> None:
        super().__init__()
        self.uses_landmarks = False
        self.uses_audio = True

        def tdnn(i, o, k, d):
            return nn.Sequential(nn.Conv1d(i, o, k, dilation=d, padding=d * (k // 2), bias=False), nn.BatchNorm1d(o), nn.ReLU(inplace=True))

        self.frames = nn.Sequential(tdnn(N_AUDIO_FEATURES, hidden, 5, 1), tdnn(hidden, hidden, 3, 2), tdnn(hidden, hidden, 3, 3), tdnn(hidden, 2 * hidden, 1, 1))
        head = [nn.Dropout(dropout), nn.Linear(4 * hidden, embedding_dim)]
        if bn_neck:
            head.append(nn.BatchNorm1d(embedding_dim, affine=False))
        self.head = nn.Sequential(*head)

    def pooled(self, audio: torch.Tensor) -> torch.Tensor:
        h = self.frames(audio)  # (B, 2C, T)
        return torch.cat([h.mean(dim=2), h.std(dim=2)], dim=1)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return F.normalize(self.head(self.pooled(batch["audio"])), dim=1)


class LipVoiceNet(nn.Module):
    """Early fusion: [lip embedding, voice embedding] -> a joint embedding."""

    def __init__(self, embedding_dim: int = 128, voice: dict | None = None, dropout: float = 0.3, bn_neck: bool = True, **lip_cfg) -> None:
        super().__init__()
        self.uses_landmarks = False
        self.uses_audio = True
        self.lip = SlowFast(embedding_dim=embedding_dim, dropout=dropout, bn_neck=bn_neck, **lip_cfg)
        self.voice = VoiceNet(embedding_dim=embedding_dim, dropout=dropout, bn_neck=bn_neck, **(voice or {}))
        head = [nn.Linear(2 * embedding_dim, embedding_dim)]
        if bn_neck:
            head.append(nn.BatchNorm1d(embedding_dim, affine=False))
        self.joint = nn.Sequential(*head)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        both = torch.cat([self.lip(batch), self.voice(batch)], dim=1)
        return F.normalize(self.joint(both), dim=1)


@register_model("voice")
def voice(**cfg) -> VoiceNet:
    return VoiceNet(**cfg)


@register_model("lip_voice")
def lip_voice(**cfg) -> LipVoiceNet:
    return LipVoiceNet(**cfg)
