"""A registry of embedding models and `create_model(name, **cfg)`, after timm.

Models are plain nn.Modules that take a batch dict {"video": (B, C, T, H, W) float,
"landmarks": (B, T, K*2) float or absent} and return L2-normalised (B, D) embeddings.
"""

from __future__ import annotations

import torch.nn as nn

from lipauth.errors import InvalidInputError
from lipauth.registry import Registry

MODELS = Registry("model", ("lipauth.models.slowfast", "lipauth.models.whispernet_v1", "lipauth.models.voice", "lipauth.models.ensemble"))
register_model = MODELS.register
model_names = MODELS.names


def create_model(name: str, **cfg) -> nn.Module:
    factory = MODELS.get(name)
    try:
        return factory(**cfg)
    except TypeError as exc:
        raise InvalidInputError(f"bad settings for model {name!r}: {exc}") from None
