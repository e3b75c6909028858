"""Decode a video file with PyAV: the frames, the frame rate, and the audio as 16 kHz mono.

Frames are kept as the codec gives them, luma and chroma, not converted to RGB: the lips
and the landmarks need only the grey picture, which is the luma plane (stretched to full
range, as RGB->grey gives it), so a verify skips a colour conversion that cost more than
the decoding itself (91 vs 55 ms for a 3 s SD clip), and a clip takes half the memory.
RGB is made from the planes for the few frames that need colour (face crops, pictures).
One demux pass serves both streams. Every way a file can fail to decode ends in a
`VideoDecodeError` (or `TruncatedVideoError`) whose message names the file and the cause.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Callable, Sequence

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
# the pipeline's max_pixels scaled down as they are decoded. 4: grey from the luma plane
# (tests/test_decode.py compares it with RGB->grey).
DECODER_VERSION = 4
# Limited-range (BT.601/709 "TV") luma 16..235 -> full-range grey 0..255, and back. The
# 1.4 levels down are libswscale's: its fixed-point YUV->RGB lands that far below the exact
# formula, and RGB->grey of its output is what the models learned from (with the offset,
# 99.9 % of face-video pixels are within 1 grey level of it; without, half).
_SWSCALE_OFFSET = -1.4
_LUMA_TO_GREY = np.clip(np.round((np.arange(256) - 16) * 255 / 219 + _SWSCALE_OFFSET), 0, 255).astype(np.uint8)
_GREY_TO_LUMA = np.clip(np.round((np.arange(256) - _SWSCALE_OFFSET) * 219 / 255 + 16), 0, 255).astype(np.uint8)
LIMITED_RANGE, FULL_RANGE = 1, 2  # libavutil's AVCOL_RANGE_MPEG and AVCOL_RANGE_JPEG
BYTES_PER_PIXEL = 1.5  # a grey byte per pixel, and two chroma bytes per 2x2 pixels


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
    grey: np.ndarray  # (T, H, W) uint8, full range; H and W even
    chroma: np.ndarray  # (T, 2, H/2, W/2) uint8 Cb and Cr as decoded (limited range)
    fps: float
    audio: np.ndarray | None  # (N,) int16 at AUDIO_RATE, or None when there is no audio track
    declared_duration: float | None  # seconds, from the container, when it says
    trimmed: bool = False  # only the first max_seconds were decoded (decode_video(trim=True))

    @property
    def n_frames(self) -> int:
        return int(self.grey.shape[0])

    def rgb(self, indices: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
        """(n, H, W, 3) uint8 RGB of the frames at `indices` (all when None)."""
        idx = range(self.n_frames) if indices is None else indices
        return np.stack([_to_rgb(self.grey[i], self.chroma[i]) for i in idx]) if len(idx) else np.zeros((0, *self.grey.shape[1:], 3), np.uint8)

    @cached_property
    def frames(self) -> np.ndarray:
        """(T, H, W, 3) uint8 RGB of every frame, made once on first use (3 bytes a pixel:
        what the pipeline avoids holding)."""
        return self.rgb()


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
    on_frame: Callable[[np.ndarray | None], None] | None = None,
    trim: bool = False,
) -> DecodedVideo:
    """Decode `path` completely. `max_frames` stops early (and disables the truncation check);
    a video longer than `max_seconds` raises VideoTooLongError as soon as that is known, or
    with trim=True is decoded up to max_seconds only (video.trimmed says so).
    `near_fps`: a video at 1.5 times that rate or more keeps every k-th frame, k the whole
    number that brings its rate nearest to `near_fps` (60 fps -> 30, 50 -> 25); the audio is
    kept whole, so it stays aligned by time. `max_pixels`: larger frames are scaled down as
    they are decoded, keeping their shape, to at most that many pixels. `max_bytes`: fewer
    pixels still where the frames the header promises (up to max_seconds) would take more
    memory than that. `limits`: a picture larger than they allow is refused
    (VideoTooLargeError) before any frame is decoded.

    Only the frames kept are held, each at its scaled size, so memory is bounded by
    max_seconds x the kept rate x max_pixels (and by max_bytes) whatever the file's
    resolution.

    `on_frame(grey)` is called with each kept frame's grey picture as soon as it is decoded
    (so that landmarks can be found while decoding goes on, in another thread); a call with
    None means the frames so far are void and come again: the header's frame rate was wrong
    and the file is decoded a second time, thinned right."""
    step, fps, declared = _probe(path, near_fps, limits)
    trimming = bool(trim and max_seconds and (declared is None or declared > max_seconds))
    if trimming:  # the first max_seconds by the header's rate; a header that lies about it still meets max_seconds below
        max_frames = min(max_frames or 1 << 62, max(1, int(max_seconds * fps)))
        max_seconds = max_seconds * 1.5
    if max_bytes:
        seconds = min(s for s in (declared, max_seconds, 3600.0) if s)
        budget = int(max_bytes / (BYTES_PER_PIXEL * max(1.0, seconds * fps / step)))
        max_pixels = min(max_pixels or budget, budget)
    video, fps = _decode(path, audio, max_frames, max_seconds, max_pixels, step, on_frame=on_frame)
    right = max(1, round(fps / near_fps)) if near_fps else 1
    if right != step:  # the header's frame rate was wrong (_checked_rate): decode again, thinned right
        if on_frame is not None:
            on_frame(None)
        video, _ = _decode(path, audio, max_frames, max_seconds, max_pixels, right, rate=fps, on_frame=on_frame)
    if trimming and video.n_frames / video.fps >= 0.99 * max_frames / fps:  # it went on past them
        kept = video.n_frames / video.fps
        wave = video.audio[: int(round(kept * AUDIO_RATE))] if video.audio is not None else None
        video = replace(video, audio=wave, trimmed=True)
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


def _decode(path, audio, max_frames, max_seconds, max_pixels, step, rate: float | None = None, on_frame=None) -> tuple[DecodedVideo, float]:
    """(the video, kept every `step`-th frame, and the rate its timestamps show). `rate`: the
    frame rate already measured, where the header's is known to be wrong."""
    path = Path(path)
    with _open(path) as container:
        vstream = container.streams.video[0]
        vstream.thread_type = "AUTO"
        astream = container.streams.audio[0] if (audio and container.streams.audio) else None
        fps = _frame_rate(vstream)
        capacity = _capacity(max_seconds, max_frames, _declared_duration(container, vstream), rate or fps, step)
        frames, chroma = _FrameBuffer(capacity), _FrameBuffer(capacity)
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
                            grey = _keep_upright(frame, max_pixels, frames, chroma)
                            if on_frame is not None:
                                on_frame(grey)
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
        chroma.truncate(-(-max_frames // step))
    elif declared and len(times) / fps < TRUNCATION_TOLERANCE * declared:
        raise TruncatedVideoError(
            f"{path}: truncated: decoded {len(times) / fps:.2f} s of the {declared:.2f} s its header declares"
        )
    wave = np.concatenate(chunks).astype(np.int16) if chunks else None
    if wave is not None and audio_start is not None and times and times[0] is not None:
        span = len(times) / fps  # a lead beyond the video itself is a broken timestamp: bounded
        wave = _aligned(wave, float(np.clip(audio_start - times[0], -span, span)))
    return DecodedVideo(grey=frames.array(), chroma=chroma.array(), fps=fps / step, audio=wave, declared_duration=declared), fps


class _FrameBuffer:
    """Frames written straight into one array as they are decoded, so that a clip is held
    once (a list of frames stacked at the end holds it twice, and the allocator need not
    give the list's memory back). The array is reserved for the most frames the limits
    allow; the pages of frames never decoded are never touched, so they cost no memory."""

    def __init__(self, capacity: int) -> None:
        self.capacity, self.n, self.data = max(1, capacity), 0, None

    @property
    def shape(self) -> tuple[int, ...] | None:
        """The shape of one frame so far; None before the first."""
        return None if self.data is None else self.data.shape[1:]

    def append(self, frame: np.ndarray) -> np.ndarray:
        """Store `frame`; returns the stored copy (a view into the buffer)."""
        slot = self.next_slot(frame.shape)
        slot[...] = frame
        return slot

    def next_slot(self, shape: tuple[int, ...]) -> np.ndarray:
        """The next frame's place, to be written in (a frame of `shape`, the first one's)."""
        if self.data is None:  # at most 1 GB reserved up front, however wrong a header's numbers
            self.data = np.empty((min(self.capacity, max(16, (1 << 30) // int(np.prod(shape)))), *shape), np.uint8)
        elif self.n == len(self.data):  # more frames than the header promised: grow
            grown = np.empty((2 * len(self.data), *self.data.shape[1:]), np.uint8)
            grown[: self.n] = self.data
            self.data = grown
        self.n += 1
        return self.data[self.n - 1]

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


def _keep_upright(frame, max_pixels: int | None, frames: _FrameBuffer, chroma: _FrameBuffer) -> np.ndarray:
    """Store the frame's grey picture and chroma, upright and scaled (_upright); returns the
    stored grey. The common case, a 4:2:0 frame kept as it is, is written straight into the
    buffers without an intermediate copy."""
    w, h = _kept_size(frame, max_pixels)
    if frames.shape in (None, (h, w)) and not frame.rotation and not _needs_reformat(frame, w, h):
        grey = cv2.LUT(_plane(frame.planes[0], w, h), _LUMA_TO_GREY, dst=frames.next_slot((h, w)))
        cbcr = chroma.next_slot((2, h // 2, w // 2))
        cbcr[0], cbcr[1] = _plane(frame.planes[1], w // 2, h // 2), _plane(frame.planes[2], w // 2, h // 2)
        return grey
    grey, cbcr = _upright(frame, max_pixels, frames.shape)
    chroma.append(cbcr)
    return frames.append(grey)


def _kept_size(frame, max_pixels: int | None) -> tuple[int, int]:
    """(width, height) the frame is kept at: scaled down to at most max_pixels, keeping its
    shape, and even (4:2:0 chroma has half the rows and columns)."""
    w, h = frame.width, frame.height
    if max_pixels and w * h > max_pixels:
        scale = (max_pixels / (w * h)) ** 0.5
        w, h = int(w * scale), int(h * scale)
    return max(2, w // 2 * 2), max(2, h // 2 * 2)


def _needs_reformat(frame, w: int, h: int) -> bool:
    """Whether libswscale must first bring the frame to 8-bit limited-range 4:2:0 of w x h."""
    return (w, h) != (frame.width, frame.height) or frame.format.name != "yuv420p" or frame.color_range == FULL_RANGE


def _upright(frame, max_pixels: int | None = None, shape: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(grey (H, W), chroma (2, H/2, W/2)) of the frame as a player shows it, scaled down (by
    libswscale, area averaging) to at most `max_pixels`, or to `shape` (height, width) where
    the stream changed size mid-way (every frame of a clip is one size). Frames in another
    pixel format (full-range JPEG YUV, 4:2:2, 10 bit, RGB codecs), or of an odd size, are
    brought to 8-bit limited-range 4:2:0 of even size by libswscale first. Phones store
    portrait video as landscape pictures with a display matrix that says how to turn them;
    undecoded, the face lies on its side and no face detector finds it. frame.rotation is the
    matrix's counter-clockwise angle (libavutil's av_display_rotation_get), and np.rot90 turns
    counter-clockwise."""
    quarter_turns = round((frame.rotation or 0) / 90) % 4
    w, h = _kept_size(frame, max_pixels)
    if _needs_reformat(frame, w, h):
        frame = frame.reformat(width=w, height=h, format="yuv420p", interpolation="AREA", dst_color_range=LIMITED_RANGE)
    grey = cv2.LUT(_plane(frame.planes[0], w, h), _LUMA_TO_GREY)
    cbcr = np.stack([_plane(frame.planes[1], w // 2, h // 2), _plane(frame.planes[2], w // 2, h // 2)])
    if quarter_turns:
        grey = np.ascontiguousarray(np.rot90(grey, quarter_turns))
        cbcr = np.ascontiguousarray(np.rot90(cbcr, quarter_turns, axes=(1, 2)))
    if shape is not None and grey.shape != tuple(shape):
        grey = cv2.resize(grey, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
        cbcr = np.stack([cv2.resize(c, (shape[1] // 2, shape[0] // 2), interpolation=cv2.INTER_AREA) for c in cbcr])
    return grey, cbcr


def _plane(plane, width: int, height: int) -> np.ndarray:
    """One plane of a frame as a (height, width) array (its rows are padded to line_size)."""
    return np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[:height, :width]


def _to_rgb(grey: np.ndarray, cbcr: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB of one stored frame, by OpenCV's BT.601 limited-range conversion (what
    libswscale's yuv420p -> rgb24 does by default)."""
    h, w = grey.shape
    i420 = np.concatenate([cv2.LUT(grey, _GREY_TO_LUMA).ravel(), cbcr.ravel()]).reshape(h * 3 // 2, w)
    return cv2.cvtColor(i420, cv2.COLOR_YUV2RGB_I420)


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
