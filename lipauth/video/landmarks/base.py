"""The one interface every face/lip landmark backend implements, and the registry of backends."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Protocol

import numpy as np

from lipauth.errors import InvalidInputError


@dataclass(frozen=True)
class LandmarkTrack:
    """Lip landmarks of one clip, in source-frame pixels.

    points:   (T, K, 2) float32, x then y; NaN on frames where no face was found
    detected: (T,) bool, True where a full face detection ran (the expensive step); the
              rest were tracked from the previous frame
    """

    points: np.ndarray
    detected: np.ndarray

    @property
    def found(self) -> np.ndarray:
        return ~np.isnan(self.points).any(axis=(1, 2))


class LandmarkBackend(Protocol):
    """Finds the lips in every frame of one clip, detecting once and tracking after that."""

    name: str
    n_points: int

    def track(self, frames: Iterable[np.ndarray]) -> LandmarkTrack:
        """`frames` are (H, W, 3) uint8 RGB. Tracking state starts fresh for every call."""
        ...


_REGISTRY: dict[str, Callable[..., LandmarkBackend]] = {}


def register_backend(name: str):
    def wrap(factory):
        _REGISTRY[name] = factory
        return factory

    return wrap


def available_backends() -> list[str]:
    _load_builtin()
    return sorted(_REGISTRY)


def create_backend(name: str, **kwargs) -> LandmarkBackend:
    """Make a landmark backend by name: 'dlib' (68-point, face_recognition's 24 lip
    coordinates) or 'mediapipe' (FaceMesh, 40 lip points)."""
    _load_builtin()
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise InvalidInputError(f"unknown landmark backend {name!r}; choose one of {', '.join(sorted(_REGISTRY))}") from None
    return factory(**kwargs)


def _load_builtin() -> None:
    # Imported here, not at module top, so that importing lipauth does not load dlib or
    # mediapipe; each backend module imports its package only when instantiated.
    from lipauth.video.landmarks import dlib_backend, mediapipe_backend  # noqa: F401
