"""The one interface every face/lip landmark backend implements, and the registry of backends."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Protocol

import numpy as np

from lipauth.registry import Registry


@dataclass(frozen=True)
class LandmarkTrack:
    """Lip landmarks of one clip, in source-frame pixels.

    points:   (T, K, 2) float32, x then y; NaN on frames where no face was found
    detected: (T,) bool, True where a full face detection ran (the expensive step); the
              rest were tracked from the previous frame
    face:     (T, 68, 2) float32, dlib's 68 face points (NaN where no face), from backends
              that fit them: what aligning the face for a face encoder needs; else None
    """

    points: np.ndarray
    detected: np.ndarray
    face: np.ndarray | None = None

    @property
    def found(self) -> np.ndarray:
        return ~np.isnan(self.points).any(axis=(1, 2))


class LandmarkBackend(Protocol):
    """Finds the lips in every frame of one clip, detecting once and tracking after that."""

    name: str
    n_points: int
    frame_colour: str  # "grey" or "rgb": what track() works on, so the pipeline hands it that

    def track(self, frames: Iterable[np.ndarray], *, max_missing_run: int | None = None) -> LandmarkTrack:
        """`frames` are (H, W, 3) uint8 RGB, or (H, W) grey for a backend whose
        frame_colour is "grey". Tracking state starts fresh for every call.
        `max_missing_run`: stop after that many face-less frames in a row (the track is then
        shorter than the clip), so a video without a face costs a few frames, not all."""
        ...


BACKENDS = Registry("landmark backend", ("lipauth.video.landmarks.dlib_backend", "lipauth.video.landmarks.mediapipe_backend"))
register_backend = BACKENDS.register
available_backends = BACKENDS.names


def create_backend(name: str, **kwargs) -> LandmarkBackend:
    """Make a landmark backend by name: 'dlib' (68-point, face_recognition's 24 lip
    coordinates) or 'mediapipe' (FaceMesh, 40 lip points)."""
    return BACKENDS.get(name)(**kwargs)
