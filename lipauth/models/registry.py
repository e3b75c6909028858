"""A registry of embedding models and `create_model(name, **cfg)`, after timm.

Models are plain nn.Modules that take a batch dict {"video": (B, C, T, H, W) float,
"landmarks": (B, T, K*2) float or absent} and return L2-normalised (B, D) embeddings.
"""

from __future__ import annotations

from typing import Callable

import torch.nn as nn

from lipauth.errors import InvalidInputError

_MODELS: dict[str, Callable[..., nn.Module]] = {}


def register_model(name: str):
    def wrap(factory):
        _MODELS[name] = factory
        return factory

    return wrap


def model_names() -> list[str]:
    _load_builtin()
    return sorted(_MODELS)


def create_model(name: str, **cfg) -> nn.Module:
    _load_builtin()
    if name not in _MODELS:
        raise InvalidInputError(f"unknown model {name!r}; choose one of {', '.join(sorted(_MODELS))}")
    try:
        return _MODELS[name](**cfg)
    except TypeError as exc:
        raise InvalidInputError(f"bad settings for model {name!r}: {exc}") from None


def _load_builtin() -> None:
    from lipauth.models import slowfast, whispernet_v1  # noqa: F401
