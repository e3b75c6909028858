"""WhisperNet v2: a SlowFast network (Feichtenhofer et al., 2019) sized for 30x18 lip crops.

The slow pathway sees every `alpha`-th frame with many channels (appearance: lip shape,
texture); the fast pathway sees every frame with `beta` times the channels (motion).
Lateral connections (time-strided 5x1x1 convolutions) feed the fast features into the slow
pathway after the stem and after every stage except the last. Both are pooled, concatenated
and projected to an L2-normalised embedding. `pool="space_time"` averages over time and
space, as in the paper; `pool="time"` averages over time only and keeps the small final
spatial map (3x4 for 30x18 input), so the head still knows where on the lips a feature is:
mouth shape is identity.

`pathways="slow"` / `"fast"` are the slow-only and fast-only ablations.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from lipauth.errors import InvalidInputError
from lipauth.models.registry import register_model


def _unit(c_in: int, c_out: int, kernel: tuple[int, int, int], stride=(1, 1, 1)) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv3d(c_in, c_out, kernel, stride=stride, padding=tuple(k // 2 for k in kernel), bias=False),
        nn.BatchNorm3d(c_out),
        nn.ReLU(inplace=True),
    )


class Stage(nn.Module):
    """Two conv units, the first downsampling space by 2, with a projected residual."""

    def __init__(self, c_in: int, c_out: int, t_kernel: int) -> None:
        super().__init__()
        self.a = _unit(c_in, c_out, (t_kernel, 3, 3), stride=(1, 2, 2))
        self.b = nn.Sequential(nn.Conv3d(c_out, c_out, (t_kernel, 3, 3), padding=(t_kernel // 2, 1, 1), bias=False), nn.BatchNorm3d(c_out))
        self.skip = nn.Sequential(nn.Conv3d(c_in, c_out, 1, stride=(1, 2, 2), bias=False), nn.BatchNorm3d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.b(self.a(x)) + self.skip(x))


@register_model("whispernet_v2")
class SlowFast(nn.Module):
    def __init__(
        self,
        *,
        width: int = 30,
        height: int = 18,
        channels: int = 1,
        alpha: int = 4,
        beta: float = 0.25,
        slow_channels: tuple[int, ...] = (32, 64, 128),
        embedding_dim: int = 128,
        dropout: float = 0.3,
        pathways: str = "both",
        pool: str = "time",
        bn_neck: bool = False,
        n_landmarks: int | None = None,  # accepted so every model takes the same data spec; unused
    ) -> None:
        super().__init__()
        if pathways not in ("both", "slow", "fast"):
            raise InvalidInputError(f"pathways must be both, slow or fast, got {pathways!r}")
        if pool not in ("time", "space_time"):
            raise InvalidInputError(f"pool must be time or space_time, got {pool!r}")
        self.uses_landmarks = False
        self.pool = pool
        self.alpha = alpha
        self.use_slow = pathways in ("both", "slow")
        self.use_fast = pathways in ("both", "fast")
        lateral = self.use_slow and self.use_fast
        slow_c = list(slow_channels)
        fast_c = [max(4, int(round(c * beta))) for c in slow_c]
        stem_slow, stem_fast = slow_c[0] // 2, fast_c[0] // 2

        if self.use_slow:
            self.slow_stem = _unit(channels, stem_slow, (1, 3, 3))
        if self.use_fast:
            self.fast_stem = _unit(channels, stem_fast, (5, 3, 3))
        # Lateral fast->slow: a 5x1x1 conv with temporal stride alpha, 2x the fast channels.
        self.laterals = nn.ModuleList()
        lateral_in = [stem_fast] + fast_c[:-1]
        if lateral:
            for c in lateral_in:
                self.laterals.append(nn.Conv3d(c, 2 * c, (5, 1, 1), stride=(alpha, 1, 1), padding=(2, 0, 0), bias=False))
        self.slow_stages = nn.ModuleList()
        self.fast_stages = nn.ModuleList()
        s_in, f_in = stem_slow, stem_fast
        for i, (sc, fc) in enumerate(zip(slow_c, fast_c)):
            if self.use_slow:
                extra = 2 * lateral_in[i] if lateral else 0
                # The slow pathway is temporally 1x1 in its early stages, as in the paper.
                self.slow_stages.append(Stage(s_in + extra, sc, 1 if i == 0 else 3))
            if self.use_fast:
                self.fast_stages.append(Stage(f_in, fc, 3))
            s_in, f_in = sc, fc
        h, w = height, width
        for _ in slow_c:
            h, w = (h + 1) // 2, (w + 1) // 2  # each stage halves space (3x3 conv, stride 2, pad 1)
        cells = h * w if pool == "time" else 1
        pooled = ((slow_c[-1] if self.use_slow else 0) + (fast_c[-1] if self.use_fast else 0)) * cells
        head = [nn.Dropout(dropout), nn.Linear(pooled, embedding_dim)]
        if bn_neck:  # standardise each embedding dimension before normalising (re-ID "BNNeck")
            head.append(nn.BatchNorm1d(embedding_dim, affine=False))
        self.head = nn.Sequential(*head)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        video = batch["video"]  # (B, C, T, H, W)
        slow = self.slow_stem(video[:, :, :: self.alpha]) if self.use_slow else None
        fast = self.fast_stem(video) if self.use_fast else None
        n_stages = len(self.slow_stages) or len(self.fast_stages)
        for i in range(n_stages):
            if self.laterals:
                lat = self.laterals[i](fast)
                slow = torch.cat([slow, lat[:, :, : slow.shape[2]]], dim=1)
            if self.use_slow:
                slow = self.slow_stages[i](slow)
            if self.use_fast:
                fast = self.fast_stages[i](fast)
        dims = (2,) if self.pool == "time" else (2, 3, 4)
        pooled = [p.mean(dim=dims).flatten(1) for p in (slow, fast) if p is not None]
        return F.normalize(self.head(torch.cat(pooled, dim=1)), dim=1)
