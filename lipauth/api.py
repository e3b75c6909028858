"""The public face of lipauth: a handful of plain functions and two classes.

    import lipauth
    model = lipauth.load_model()                 # the bundled default model
    vec = model.embed("clip.mp4")                # (D,) L2-normalised
    verifier = lipauth.Verifier(model, lipauth.TemplateStore("templates.db", create=True))
    verifier.enroll("alice", ["a1.mp4", "a2.mp4", "a3.mp4"])
    decision = verifier.verify("alice", "probe.mp4")   # score, threshold, accepted, reasons
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from lipauth.artifacts import LIP_MODEL, artifact_id, bundled
from lipauth.clip import AUDIO_RATE, ClipMeta, LipClip
from lipauth.errors import InvalidInputError
from lipauth.models.embedder import LipEmbedder
from lipauth.video.pipeline import LipPipeline, PipelineConfig


def default_model_path() -> Path:
    return bundled(LIP_MODEL)


class LipModel:
    """A trained embedder plus the video pipeline that makes its input."""

    def __init__(self, embedder: LipEmbedder, model_id: str, pipeline: LipPipeline | None = None, *, also_known_as: tuple[str, ...] = ()) -> None:
        """model_id: what templates made with this model are stamped with (load_model: the
        embedder's identity, which recalibration does not change); also_known_as: older ids
        of the same network (the model file's digest, which templates enrolled before
        lipauth 0.x carry), whose templates it still verifies."""
        self.embedder = embedder
        self.id = model_id
        self.ids = frozenset((model_id, *also_known_as))
        self._pipeline = pipeline

    @property
    def pipeline(self) -> LipPipeline:
        if self._pipeline is None:  # made on first use: loading dlib costs ~0.5 s
            # face crops ride along (8 resizes, ~1 ms) so that face liveness can run on the clip
            self._pipeline = LipPipeline(PipelineConfig(backend=self.embedder.backend, crop=self.embedder.crop, face_crops=8))
        return self._pipeline

    def clip(self, video: str | os.PathLike | LipClip, *, audio: bool | None = None, face_chips: int = 0, thumbnails: bool = False) -> LipClip:
        """A video file through the pipeline, or a LipClip as it is. `audio=False`: the
        sound is not decoded (the clip's audio is None), unless the model itself listens.
        `face_chips`: aligned face chips kept for the face encoder (lipauth.encoders.face).
        `thumbnails`: frame thumbnails kept for the motion check (lipauth.pad.motion_check)."""
        if isinstance(video, LipClip):
            return video
        if isinstance(video, (str, os.PathLike)):
            return self.pipeline.process(video, audio=None if audio is None else (audio or self.embedder.uses_audio), face_chips=face_chips or None, thumbnails=thumbnails)
        raise InvalidInputError(f"expected a video path or a LipClip, got {type(video).__name__}")

    def embed(self, video: str | os.PathLike | LipClip) -> np.ndarray:
        return self.embedder.embed_clips([self.clip(video)])[0]

    def warm_up(self, n_frames: int = 75) -> None:
        """Run the lip network once on a blank clip of the pipeline's crop size, so that what
        runs on first use (a frozen network is traced then: ~0.5 s) runs now, not in the
        first request (Verifier.prepare_for_serving)."""
        crop = self.embedder.crop
        shape = (n_frames, crop.height, crop.width, *((3,) if crop.color == "rgb" else ()))
        blank = LipClip(
            frames=np.zeros(shape, np.uint8), meta=ClipMeta(clip_id="warm-up"), fps=25.0,
            landmarks=np.zeros((n_frames, self.pipeline.backend.n_points, 2), np.float32), audio=np.zeros(int(n_frames / 25.0 * AUDIO_RATE), np.int16),
        )
        self.embedder.embed_clips([blank])

    def embed_many(self, videos) -> np.ndarray:
        return self.embedder.embed_clips([self.clip(v) for v in videos])


def load_model(path: str | os.PathLike | None = None) -> LipModel:
    """Load a model file made by `lipauth train`; None loads the model bundled with lipauth,
    which decides on the lips, the voice and the face together (the fusion rules inside it,
    fitted by configs/fusion.yaml). Templates stamped with the file's digest or an earlier
    file's of the same network (info["also_known_as"]) verify with it too."""
    path = Path(path) if path is not None else default_model_path()
    embedder = LipEmbedder.load(path)
    return LipModel(embedder, model_id=embedder.identity(), also_known_as=(artifact_id(path), *embedder.info.get("also_known_as", ())))
