"""`LipClip`: the one record that crosses every boundary in lipauth.

Readers produce it, the video pipeline produces it from raw video, models consume batches of
it. Nothing downstream of a LipClip reopens a video file.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from lipauth.errors import InvalidInputError

#: sample rate of the `audio` waveform every video-derived clip carries
AUDIO_RATE = 16_000


@dataclass(frozen=True)
class CropSpec:
    width: int = 30
    height: int = 18
    color: str = "grey"  # "grey" or "rgb"
    padding: float = 0.25  # added on each side, as a fraction of the lips' width / height
    center_sigma: float = 1.0  # frames; Gaussian smoothing of the box centre
    size_sigma: float = 6.0  # frames; Gaussian smoothing of the box size

    def __post_init__(self) -> None:
        if self.width < 4 or self.height < 4:
            raise InvalidInputError(f"crop size must be at least 4x4, got {self.width}x{self.height}")
        if self.color not in ("grey", "rgb"):
            raise InvalidInputError(f"color must be 'grey' or 'rgb', got {self.color!r}")
        if self.padding < 0:
            raise InvalidInputError(f"padding must be >= 0, got {self.padding}")

    @property
    def aspect(self) -> float:
        return self.width / self.height

    @classmethod
    def parse_size(cls, text: str) -> tuple[int, int]:
        """'30x18' -> (30, 18): width then height."""
        try:
            w, h = (int(v) for v in text.lower().split("x"))
        except ValueError:
            raise InvalidInputError(f"size must look like WIDTHxHEIGHT (e.g. 30x18), got {text!r}") from None
        return w, h


@dataclass(frozen=True)
class ClipMeta:
    """Who says what, and where it came from. Unknown fields are None."""

    clip_id: str
    speaker: str | None = None
    phrase: str | None = None
    emotion: str | None = None
    intensity: str | None = None
    repetition: int | None = None
    corpus: str | None = None
    source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ClipMeta":
        known = {k: d.get(k) for k in cls.__dataclass_fields__}
        if known["repetition"] is not None:
            known["repetition"] = int(known["repetition"])
        return cls(**known)


@dataclass(frozen=True)
class FaceViews:
    """What the pipeline keeps of the whole face and frame beside the lips, each only where a
    check or an encoder asked for it (PipelineConfig): the crops face liveness compares
    ((n, 64, 64, 3) uint8 RGB), the aligned chips the face encoder embeds ((n, 150, 150, 3)
    uint8 RGB, dlib's alignment) and the frames' thumbnails the motion check reads
    ((T, 32, 32) uint8 grey)."""

    crops: np.ndarray | None = None
    chips: np.ndarray | None = None
    thumbnails: np.ndarray | None = None


@dataclass(frozen=True)
class LipClip:
    """A clip of lip frames with everything measured alongside it.

    frames:        (T, H, W) grey or (T, H, W, 3) RGB, uint8
    landmarks:     (T, K, 2) float32 lip landmarks, x then y, normalised to the crop
                   (0..1 inside it), or None when the corpus ships crops only (AVLetters)
    fps:           video frame rate
    audio:         (N,) int16 mono waveform at `AUDIO_RATE`, or None
    audio_features:(M, D) float32 frame-level audio features shipped by a corpus (AVLetters'
                   HTK MFCCs), with their rate in `audio_features_rate` (Hz)
    boxes:         (T, 4) float32 crop boxes x0, y0, x1, y1 in source-frame pixels, or None
    views:         the face's crops and chips and the frames' thumbnails (FaceViews)
    """

    frames: np.ndarray
    meta: ClipMeta
    fps: float
    landmarks: np.ndarray | None = None
    audio: np.ndarray | None = None
    audio_features: np.ndarray | None = None
    audio_features_rate: float | None = None
    boxes: np.ndarray | None = None
    views: FaceViews = field(default_factory=FaceViews)  # the face beside the lips (FaceViews)
    trimmed_s: float | None = None  # only the video's first seconds were kept (PipelineConfig.max_seconds)
    extra: dict[str, Any] = field(default_factory=dict)  # what the pipeline measured on the way (missing, detected, backend): for reading, not deciding

    def __post_init__(self) -> None:
        f = self.frames
        if not isinstance(f, np.ndarray) or f.dtype != np.uint8:
            raise InvalidInputError(f"frames must be a uint8 numpy array, got {type(f).__name__} {getattr(f, 'dtype', '')}")
        if f.ndim not in (3, 4) or (f.ndim == 4 and f.shape[-1] != 3):
            raise InvalidInputError(f"frames must be (T,H,W) or (T,H,W,3), got shape {f.shape}")
        if f.shape[0] == 0:
            raise InvalidInputError("frames is empty (T=0)")
        t = f.shape[0]
        if self.landmarks is not None:
            lm = self.landmarks
            if lm.ndim != 3 or lm.shape[0] != t or lm.shape[2] != 2:
                raise InvalidInputError(f"landmarks must be (T={t}, K, 2), got shape {lm.shape}")
        if self.boxes is not None and self.boxes.shape != (t, 4):
            raise InvalidInputError(f"boxes must be (T={t}, 4), got shape {self.boxes.shape}")
        if self.audio is not None and self.audio.ndim != 1:
            raise InvalidInputError(f"audio must be a 1-D waveform, got shape {self.audio.shape}")
        if not self.fps or self.fps <= 0:
            raise InvalidInputError(f"fps must be positive, got {self.fps}")

    @property
    def n_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the crops."""
        return int(self.frames.shape[2]), int(self.frames.shape[1])

    @property
    def is_rgb(self) -> bool:
        return self.frames.ndim == 4

    @property
    def duration(self) -> float:
        return self.n_frames / self.fps

    def with_meta(self, **changes: Any) -> "LipClip":
        return replace(self, meta=replace(self.meta, **changes))
