"""Decode a video file with PyAV: RGB frames, the frame rate, and the audio as 16 kHz mono.

One demux pass serves both streams. Every way a file can fail to decode ends in a
`VideoDecodeError` (or `TruncatedVideoError`) whose message names the file and the cause.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np

from lipauth.clip import AUDIO_RATE
from lipauth.errors import TruncatedVideoError, VideoDecodeError, VideoTooLargeError, VideoTooLongError

# A file whose decoded frames cover less than this share of the duration its container
# declares is treated as truncated rather than as a short clip.
TRUNCATION_TOLERANCE = 0.8
# What a folder of preprocessed clips was decoded with; folders from another version are
# refused, not mixed. 2: display rotation, audio placed by stream start times, frame rate
# checked against the timestamps, 50/60 fps thinned for the pipeline. 3: frames larger than
# the pipeline's max_pixels scaled down as they are decoded.
DECODER_VERSION = 3


@dataclass(frozen=True)
class InputLimits:
    """The largest pictures accepted, checked from the header before decoding: decoding
    time grows with the pixels a file holds, whatever the pipeline keeps of them. The
    defaults take 4K (UHD and DCI) at up to 60 fps."""

    max_frame_pixels: int = 4096 * 2304
    max_pixel_rate: float = 4096 * 2304 * 60.0  # pixels per second of video

    def check(self, path: Path, width: int, height: int, fps: float) -> None:
        if width * height > self.max_frame_pixels:
            raise VideoTooLargeError(f"{path.name}: {width}x{height} frames are larger than the {self.max_frame_pixels / 1e6:.1f} megapixels accepted")
        if width * height * fps > self.max_pixel_rate:
            raise VideoTooLargeError(f"{path.name}: {width}x{height} at {fps:g} fps is more than the {self.max_pixel_rate / 1e6:.0f} megapixels per second accepted")


@dataclass(frozen=True)
class DecodedVideo:
    frames: np.ndarray  # (T, H, W, 3) uint8 RGB
    fps: float
    audio: np.ndarray | None  # (N,) int16 at AUDIO_RATE, or None when there is no audio track
    declared_duration: float | None  # seconds, from the container, when it says

    @property
    def n_frames(self) -> int:
        return int(self.frames.shape[0])


def decode_video(
    path: str | os.PathLike,
    *,
    audio: bool = True,
    max_frames: int | None = None,
    max_seconds: float | None = None,
    near_fps: float | None = None,
    max_pixels: int | None = None,
    max_bytes: int | None = None,
    limits: InputLimits | None = None,
) -> DecodedVideo:
    """Decode `path` completely. `max_frames` stops early (and disables the truncation check);
    a video longer than `max_seconds` raises VideoTooLongError as soon as that is known.
    `near_fps`: a video at 1.5 times that rate or more keeps every k-th frame, k the whole
    number that brings its rate nearest to `near_fps` (60 fps -> 30, 50 -> 25); the audio is
    kept whole, so it stays aligned by time. `max_pixels`: larger frames are scaled down as
    they are decoded, keeping their shape, to at most that many pixels. `max_bytes`: fewer
    pixels still where the frames the header promises (up to max_seconds) would take more
    memory than that. `limits`: a picture larger than they allow is refused
    (VideoTooLargeError) before any frame is decoded.

    Only the frames kept are held, each at its scaled size, so memory is bounded by
    max_seconds x the kept rate x max_pixels (and by max_bytes) whatever the file's
    resolution."""
    step, fps, declared = _probe(path, near_fps, limits)
    if max_bytes:
        seconds = min(s for s in (declared, max_seconds, 3600.0) if s)
        budget = int(max_bytes / (3 * max(1.0, seconds * fps / step)))
        max_pixels = min(max_pixels or budget, budget)
    video, fps = _decode(path, audio, max_frames, max_seconds, max_pixels, step)
    right = max(1, round(fps / near_fps)) if near_fps else 1
    if right != step:  # the header's frame rate was wrong (_checked_rate): decode again, thinned right
        video, _ = _decode(path, audio, max_frames, max_seconds, max_pixels, right, rate=fps)
    return video


def _open(path: Path):
    """The file opened by PyAV, with at least one video stream."""
    if not path.is_file():
        raise VideoDecodeError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise VideoDecodeError(f"{path}: file is empty")
    try:
        container = av.open(str(path))
    except av.FFmpegError as exc:
        raise VideoDecodeError(f"{path}: not a readable video ({_reason(exc)})") from exc
    if not container.streams.video:
        container.close()
        raise VideoDecodeError(f"{path}: has no video stream")
    return container


def _probe(path: str | os.PathLike, near_fps: float | None, limits: InputLimits | None) -> tuple[int, float, float | None]:
    """(the thinning step, the frame rate, the duration) the header declares, after checking
    the picture's size."""
    path = Path(path)
    with _open(path) as container:
        vstream = container.streams.video[0]
        fps = _frame_rate(vstream)
        if limits is not None:
            limits.check(path, vstream.codec_context.width, vstream.codec_context.height, fps)
        declared = _declared_duration(container, vstream)
    return (max(1, round(fps / near_fps)) if near_fps else 1), fps, declared


def _decode(path, audio, max_frames, max_seconds, max_pixels, step, rate: float | None = None) -> tuple[DecodedVideo, float]:
    """(the video, kept every `step`-th frame, and the rate its timestamps show). `rate`: the
    frame rate already measured, where the header's is known to be wrong."""
    path = Path(path)
    with _open(path) as container:
        vstream = container.streams.video[0]
        vstream.thread_type = "AUTO"
        astream = container.streams.audio[0] if (audio and container.streams.audio) else None
        fps = _frame_rate(vstream)
        frames = _FrameBuffer(_capacity(max_seconds, max_frames, _declared_duration(container, vstream), rate or fps, step))
        times: list[float | None] = []
        audio_start: float | None = None
        chunks: list[np.ndarray] = []
        resampler = av.AudioResampler(format="s16", layout="mono", rate=AUDIO_RATE) if astream else None
        streams = [vstream] + ([astream] if astream else [])
        bad_packets = 0
        try:
            for packet in container.demux(*streams):
                try:
                    decoded = packet.decode()
                except av.FFmpegError:
                    # Like ffmpeg, skip a damaged packet and go on; the duration check below
                    # decides whether what is left is still the video the header promised.
                    bad_packets += 1
                    continue
                for frame in decoded:
                    if packet.stream is vstream:
                        if len(times) % step == 0:  # a frame thinned away is never converted
                            frames.append(_upright(frame, max_pixels, frames.shape))
                        times.append(frame.time)
                    elif resampler is not None:
                        if audio_start is None:
                            audio_start = frame.time
                        chunks.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(frame))
                if max_frames is not None and len(times) >= max_frames:
                    break
                if max_seconds is not None and _seconds(times, fps) > max_seconds:
                    raise VideoTooLongError(f"{path}: longer than {max_seconds:g} s, the most this pipeline takes (max_seconds)")
            else:
                if resampler is not None:
                    chunks.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(None))
        except av.FFmpegError as exc:  # the demuxer itself gave up
            raise VideoDecodeError(f"{path}: corrupt video data after {len(frames)} frames ({_reason(exc)})") from exc
        declared = _declared_duration(container, vstream)

    if not frames:
        detail = f" ({bad_packets} damaged packets)" if bad_packets else ""
        raise VideoDecodeError(f"{path}: no decodable video frames{detail}")
    fps = _checked_rate(fps, times)
    if max_frames is not None:
        frames.truncate(-(-max_frames // step))
    elif declared and len(times) / fps < TRUNCATION_TOLERANCE * declared:
        raise TruncatedVideoError(
            f"{path}: truncated: decoded {len(times) / fps:.2f} s of the {declared:.2f} s its header declares"
        )
    wave = np.concatenate(chunks).astype(np.int16) if chunks else None
    if wave is not None and audio_start is not None and times and times[0] is not None:
        span = len(times) / fps  # a lead beyond the video itself is a broken timestamp: bounded
        wave = _aligned(wave, float(np.clip(audio_start - times[0], -span, span)))
    return DecodedVideo(frames=frames.array(), fps=fps / step, audio=wave, declared_duration=declared), fps


class _FrameBuffer:
    """Frames written straight into one array as they are decoded, so that a clip is held
    once (a list of frames stacked at the end holds it twice, and the allocator need not
    give the list's memory back). The array is reserved for the most frames the limits
    allow; the pages of frames never decoded are never touched, so they cost no memory."""

    def __init__(self, capacity: int) -> None:
        self.capacity, self.n, self.data = max(1, capacity), 0, None

    @property
    def shape(self) -> tuple[int, int] | None:
        """(height, width) of the frames so far; None before the first."""
        return None if self.data is None else self.data.shape[1:3]

    def append(self, frame: np.ndarray) -> None:
        if self.data is None:  # at most 1 GB reserved up front, however wrong a header's numbers
            self.data = np.empty((min(self.capacity, max(16, (1 << 30) // frame.nbytes)), *frame.shape), np.uint8)
        elif self.n == len(self.data):  # more frames than the header promised: grow
            grown = np.empty((2 * len(self.data), *self.data.shape[1:]), np.uint8)
            grown[: self.n] = self.data
            self.data = grown
        self.data[self.n] = frame
        self.n += 1

    def __len__(self) -> int:
        return self.n

    def truncate(self, n: int) -> None:
        self.n = min(self.n, n)

    def array(self) -> np.ndarray:
        return self.data[: self.n]


def _capacity(max_seconds: float | None, max_frames: int | None, declared: float | None, fps: float, step: int) -> int:
    """Frames to reserve: the fewest the limits and the header allow, with a margin."""
    bounds = [n for n in (max_frames, max_seconds and max_seconds * fps, declared and 1.2 * declared * fps) if n]
    return int(min(bounds, default=30 * fps) / step) + 16


def _seconds(times: list[float | None], fps: float) -> float:
    """How long the frames decoded so far last: by their timestamps where they have them
    (a header's frame rate can be wrong, below), else by the declared rate."""
    if len(times) > 1 and times[0] is not None and times[-1] is not None:
        return times[-1] - times[0]
    return len(times) / fps


def _aligned(wave: np.ndarray, lead: float) -> np.ndarray:
    """The audio as it plays against the first video frame: a track that starts `lead`
    seconds after the video gets that much silence in front, one that starts before loses
    its head. Containers say when each stream starts; a player honours it, and so must
    AV synchrony (a 0.3 s late start read as 0 looks like a dub)."""
    n = int(round(lead * AUDIO_RATE))
    if n > 0:
        return np.concatenate([np.zeros(n, wave.dtype), wave])
    return wave[-n:] if n < 0 else wave


def _checked_rate(declared: float, times: list[float | None]) -> float:
    """The stream's declared frame rate, unless the frames' own timestamps say otherwise by
    more than a quarter: browser recordings (MediaRecorder WebM) can declare 1000 fps, the rate
    of their millisecond clock. A few dropped frames (GRID has some) do not count."""
    t = [x for x in times if x is not None]
    if len(t) < 3 or t[-1] <= t[0]:
        return declared
    measured = (len(t) - 1) / (t[-1] - t[0])
    return measured if abs(declared - measured) > 0.25 * measured else declared


def _upright(frame, max_pixels: int | None = None, shape: tuple[int, int] | None = None) -> np.ndarray:
    """The frame as a player shows it, scaled down (by libswscale, area averaging) to at
    most `max_pixels`, or to `shape` (height, width) where the stream changed size mid-way
    (every frame of a clip is one size). Phones store portrait video as landscape pictures
    with a display matrix that says how to turn them; undecoded, the face lies on its side
    and no face detector finds it. frame.rotation is the matrix's counter-clockwise angle
    (libavutil's av_display_rotation_get), and np.rot90 turns counter-clockwise."""
    w, h = frame.width, frame.height
    if max_pixels and w * h > max_pixels:
        scale = (max_pixels / (w * h)) ** 0.5
        w, h = max(2, int(w * scale) // 2 * 2), max(2, int(h * scale) // 2 * 2)
        rgb = frame.reformat(width=w, height=h, format="rgb24", interpolation="AREA").to_ndarray()
    else:
        rgb = frame.to_ndarray(format="rgb24")
    quarter_turns = round((frame.rotation or 0) / 90) % 4
    if quarter_turns:
        rgb = np.ascontiguousarray(np.rot90(rgb, quarter_turns))
    if shape is not None and rgb.shape[:2] != tuple(shape):
        rgb = cv2.resize(rgb, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
    return rgb


def _frame_rate(stream) -> float:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    if not rate:
        raise VideoDecodeError("video stream declares no frame rate")
    return float(rate)


def _declared_duration(container, vstream) -> float | None:
    if vstream.duration and vstream.time_base:
        return float(vstream.duration * vstream.time_base)
    if container.duration:
        return container.duration / av.time_base
    return None


def _reason(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
