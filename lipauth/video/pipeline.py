"""Raw video -> LipClip: decode, find the lips on every frame, fill short gaps, crop.

    clip = LipPipeline(PipelineConfig(backend="dlib", crop=CropSpec(30, 18))).process("talk.mp4")
"""

from __future__ import annotations

import os
import queue
import threading
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable, Iterator

import cv2
import numpy as np

from lipauth.clip import AUDIO_RATE, ClipMeta, FaceViews, LipClip
from lipauth.errors import LandmarkGapError, NoFaceError, TooFewFramesError
from lipauth.video.decode import DecodedVideo, InputLimits, decode_video
from lipauth.video.face import aligned_face_chips, face_chip_frames, face_crops, spread_frames
from lipauth.video.gaps import interpolate_gaps
from lipauth.video.landmarks import LandmarkBackend, LandmarkTrack, create_backend
from lipauth.clip import CropSpec
from lipauth.video.roi import crop_frames, lip_boxes, normalise_to_boxes


# The lip and synchrony models learned mouth motion per frame from 25-30 fps video, and at
# twice the rate their windows span half the time: a 50 fps copy of a genuine clip lost up
# to 1 point of sync score. High-rate video is brought back into that range (decode_video).
MODEL_FPS = 27.5
THUMBNAIL = 32  # side of the frame thumbnails the motion check compares (PipelineConfig.thumbnails)
MAX_LEAD_S = 1.0  # face-less frames at the start of a video that are cut rather than refused (_start_at_the_face)


@dataclass(frozen=True)
class PipelineConfig:
    backend: str = "dlib"
    crop: CropSpec = field(default_factory=CropSpec)
    min_frames: int = 10  # fewer than this (after decoding) is a failure to acquire
    max_gap: int = 8  # longest run of face-less frames that is interpolated over
    max_missing_fraction: float = 0.25
    max_seconds: float = 30.0  # frames are held in memory: of a longer video, the first max_seconds are used (clip.trimmed_s)
    refuse_long: bool = False  # refuse a video longer than max_seconds (VideoTooLongError) instead
    # frames are kept at most this large (scaled down at decode): PAL SD, 720x576, holds a
    # face the landmarks and 30x18 lip crops need, and SD video (GRID's) is not scaled, which
    # would cost a verify ~75 ms; smaller where a clip's frames would take more than
    # max_frame_bytes (at 1.5 bytes a pixel, past ~34 s at 25 fps or ~14 s at 60 fps), so
    # that memory per video is bounded by design
    max_pixels: int = 720 * 576
    max_frame_bytes: int = 512 << 20
    audio: bool = True
    face_crops: int = 0  # face crops (64x64 RGB) for face liveness kept in clip.views.crops; 0: none
    face_chips: int = 0  # aligned 150x150 face chips for the face encoder in clip.views.chips (dlib backend); 0: none
    thumbnails: bool = False  # 32x32 grey thumbnails of every frame in clip.views.thumbnails, for the motion check

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for name in ("face_crops", "face_chips", "thumbnails", "refuse_long"):
            if not d[name]:  # so that folders preprocessed before the field existed still match
                del d[name]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "PipelineConfig":
        d = dict(d)
        d["crop"] = CropSpec(**d.get("crop", {}))
        return cls(**d)


@dataclass(frozen=True)
class PipelineTrace:
    """What the pipeline saw on the way, for `lipauth inspect` and for debugging."""

    video: DecodedVideo
    track: LandmarkTrack
    points: np.ndarray  # (T, K, 2) lip landmarks in frame pixels after gap filling
    missing: np.ndarray  # (T,) frames whose landmarks were interpolated
    boxes: np.ndarray  # (T, 4)


class LipPipeline:
    """Holds one landmark backend (they are costly to create) and processes clips with it."""

    def __init__(self, config: PipelineConfig | None = None, backend: LandmarkBackend | None = None) -> None:
        self.config = config or PipelineConfig()
        self.backend = backend or create_backend(self.config.backend)
        # dlib's detector keeps scratch space in the object: two threads tracking with one
        # backend at once got other landmarks (measured: 0.9 px off on a CREMA-D clip)
        self._tracking = threading.Lock()
        self.decoder = None  # a DecoderProcess once decode_in_a_process() was called

    def process(self, path: str | os.PathLike, meta: ClipMeta | None = None, *, audio: bool | None = None, face_chips: int | None = None, thumbnails: bool | None = None) -> LipClip:
        """`audio`: decode the sound track (None: as the config says); a lips-only verify
        does without it, which also keeps the decoding thread out of the tracker's way.
        `face_chips`: aligned face chips to keep for the face encoder (None: as configured).
        `thumbnails`: keep every frame's thumbnail for the motion check (None: as configured;
        ~15 ms of a 3 s SD clip, so only where the liveness checks run)."""
        return self.process_traced(path, meta, audio=audio, face_chips=face_chips, thumbnails=thumbnails)[0]

    def process_traced(
        self, path: str | os.PathLike, meta: ClipMeta | None = None, *, audio: bool | None = None, face_chips: int | None = None, thumbnails: bool | None = None
    ) -> tuple[LipClip, PipelineTrace]:
        cfg = self.config if face_chips is None else replace(self.config, face_chips=face_chips)
        cfg = cfg if thumbnails is None else replace(cfg, thumbnails=thumbnails)
        video, track = self.decode_and_track(path, audio=cfg.audio if audio is None else audio)
        lead = 0
        if not track.found.any() and len(track.points) < video.n_frames:
            video, track, lead = self._start_at_the_face(path, video, track)
        if len(track.points) < video.n_frames:
            if not track.found.any():
                raise NoFaceError(f"no face found in the first {len(track.points)} of {video.n_frames} frames")
            raise LandmarkGapError(f"no face on {cfg.max_gap + 1} consecutive frames (at most {cfg.max_gap} allowed); stopped after {len(track.points)} of {video.n_frames} frames")
        points, missing = interpolate_gaps(track.points, max_gap=cfg.max_gap, max_missing_fraction=cfg.max_missing_fraction)
        boxes = lip_boxes(points, cfg.crop)
        extra = {"missing": missing, "detected": track.detected, "backend": self.backend.name, "lead_frames_cut": lead}
        views = {}
        if cfg.face_crops:
            picked = spread_frames(video.n_frames, cfg.face_crops)
            views["crops"] = face_crops(video.rgb(picked), points[picked], n=len(picked))
        if cfg.thumbnails:  # the whole frame, small: what a still or looped video repeats
            step = max(1, min(video.grey.shape[1:]) // (4 * THUMBNAIL))  # every step-th pixel first: area-averaging all of a 720x576 frame costs ~0.4 ms
            views["thumbnails"] = np.stack([cv2.resize(g[::step, ::step], (THUMBNAIL, THUMBNAIL), interpolation=cv2.INTER_AREA) for g in video.grey])
        if cfg.face_chips and track.face is not None:
            picked = face_chip_frames(track.face, cfg.face_chips)
            views["chips"] = aligned_face_chips(video.rgb(picked), track.face[picked])
        crops = crop_frames(video.grey if cfg.crop.color == "grey" else video.rgb(), boxes, cfg.crop)
        meta = meta or ClipMeta(clip_id=os.path.splitext(os.path.basename(path))[0], source=str(path))
        clip = LipClip(
            frames=crops,
            meta=meta,
            fps=video.fps,
            landmarks=normalise_to_boxes(points, boxes),
            audio=video.audio,
            boxes=boxes,
            views=FaceViews(**views),
            trimmed_s=cfg.max_seconds if video.trimmed else None,
            extra=extra,
        )
        return clip, PipelineTrace(video=video, track=track, points=points, missing=missing, boxes=boxes)

    def decode_and_track(self, path: str | os.PathLike, *, audio: bool = True) -> tuple[DecodedVideo, LandmarkTrack]:
        """Decode and find the landmarks; a backend that works on grey frames tracks them in
        this thread while the next ones decode in another (PyAV and OpenCV let go of the GIL
        while they work): of a 3 s SD clip's 74 ms of decoding, 33 are left on top of the
        tracking (dlib keeps the GIL, so the decoding thread waits for its calls to end).
        After decode_in_a_process() the decoding runs in a child process instead, the thread
        being the fallback."""
        cfg = self.config
        stop = cfg.max_gap + 1  # tracking stops at the first face-less run interpolate_gaps would refuse
        how = dict(audio=audio, max_seconds=cfg.max_seconds, near_fps=MODEL_FPS, max_pixels=cfg.max_pixels, max_bytes=cfg.max_frame_bytes, limits=InputLimits(), trim=not cfg.refuse_long)

        def decode(on_frame=None) -> DecodedVideo:
            return decode_video(path, on_frame=on_frame, **how)

        def track(frames):
            return self.backend.track(frames, max_missing_run=stop)

        if getattr(self.backend, "frame_colour", "rgb") != "grey":
            video = self._enough(path, decode())
            with self._tracking:
                return video, track(video.rgb([i])[0] for i in range(video.n_frames))
        with self._tracking:
            done = self.decoder.decode_while_tracking(path, how, track) if self.decoder is not None else None
            video, found = done if done is not None else decode_while_tracking(decode, track)
        self._enough(path, video)
        return video, found

    def decode_in_a_process(self) -> bool:
        """From now on decode in a warm child process while this one tracks
        (lipauth.video.decode_process: for a long-lived process, the service); whether that
        is available here (Linux's /dev/shm). The thread stays the fallback."""
        from lipauth.video import decode_process

        if self.decoder is None and decode_process.DecoderProcess.available():
            self.decoder = decode_process.shared()
        return self.decoder is not None

    def _start_at_the_face(self, path, video: DecodedVideo, track: LandmarkTrack) -> tuple[DecodedVideo, LandmarkTrack, int]:
        """A video whose first frames hold no face the detector finds (a fade-in, a camera
        still setting its exposure: two of grid-s1's clips fade in from grey over 12 frames)
        starts where the face does, if that is within MAX_LEAD_S; its sound is cut by the same
        time, so the two stay in step. (video, track, frames cut); nothing cut where no face
        is found that early, and the caller refuses the video as before."""
        stop, lead = self.config.max_gap + 1, len(track.points)
        grey = getattr(self.backend, "frame_colour", "rgb") == "grey"
        while lead < min(int(MAX_LEAD_S * video.fps), video.n_frames):
            frames = (video.grey[i] if grey else video.rgb([i])[0] for i in range(lead, video.n_frames))
            with self._tracking:
                rest = self.backend.track(frames, max_missing_run=stop)
            if rest.found.any():
                first = int(np.argmax(rest.found))
                cut = lead + first
                kept = LandmarkTrack(rest.points[first:], rest.detected[first:], None if rest.face is None else rest.face[first:])
                audio = None if video.audio is None else video.audio[int(round(cut / video.fps * AUDIO_RATE)) :]
                trimmed = replace(video, grey=video.grey[cut:], chroma=video.chroma[cut:], audio=audio)
                return self._enough(path, trimmed), kept, cut
            lead += len(rest.points)
        return video, track, 0

    def _enough(self, path, video: DecodedVideo) -> DecodedVideo:
        if video.n_frames < self.config.min_frames:
            raise TooFewFramesError(f"{path}: {video.n_frames} frames, at least {self.config.min_frames} needed")
        return video


_END = object()


def decode_while_tracking(decode: Callable[..., DecodedVideo], track: Callable[[Iterator[np.ndarray]], LandmarkTrack]) -> tuple[DecodedVideo, LandmarkTrack]:
    """Run `decode(on_frame)` in a thread and `track(grey frames)` here on the frames as they
    come. Decoding errors are raised here, before anything tracking found; a second decoding
    pass (decode_video's on_frame(None)) is tracked again from its frames."""
    frames: queue.SimpleQueue = queue.SimpleQueue()
    outcome: dict[str, Any] = {}

    def put(frame: np.ndarray | None) -> None:
        if frame is None:
            outcome["restarted"] = True
        frames.put(frame)

    def run() -> None:
        try:
            outcome["video"] = decode(put)
        except BaseException as exc:  # handed to the caller's thread below
            outcome["error"] = exc
        finally:
            frames.put(_END)

    def stream() -> Iterator[np.ndarray]:
        while (frame := frames.get()) is not _END and frame is not None:
            yield frame

    worker = threading.Thread(target=run, name="lipauth-decode", daemon=True)
    worker.start()
    try:
        result = track(stream())
    finally:
        worker.join()
    if "error" in outcome:
        raise outcome["error"]
    video = outcome["video"]
    if outcome.get("restarted"):
        result = track(iter(video.grey))
    return video, result
