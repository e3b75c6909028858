"""Decode a video file with PyAV: RGB frames, the frame rate, and the audio as 16 kHz mono.

One demux pass serves both streams. Every way a file can fail to decode ends in a
`VideoDecodeError` (or `TruncatedVideoError`) whose message names the file and the cause.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from lipauth.clip import AUDIO_RATE
from lipauth.errors import TruncatedVideoError, VideoDecodeError, VideoTooLongError

# A file whose decoded frames cover less than this share of the duration its container
# declares is treated as truncated rather than as a short clip.
TRUNCATION_TOLERANCE = 0.8
# What a folder of preprocessed clips was decoded with; folders from another version are
# refused, not mixed. 2: display rotation, audio placed by stream start times, frame rate
# checked against the timestamps, 50/60 fps thinned for the pipeline.
DECODER_VERSION = 2


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
    path: str | os.PathLike, *, audio: bool = True, max_frames: int | None = None, max_seconds: float | None = None, near_fps: float | None = None
) -> DecodedVideo:
    """Decode `path` completely. `max_frames` stops early (and disables the truncation check);
    a video longer than `max_seconds` raises VideoTooLongError as soon as that is known.
    `near_fps`: a video at 1.5 times that rate or more keeps every k-th frame, k the whole
    number that brings its rate nearest to `near_fps` (60 fps -> 30, 50 -> 25); the audio is
    kept whole, so it stays aligned by time."""
    path = Path(path)
    if not path.is_file():
        raise VideoDecodeError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise VideoDecodeError(f"{path}: file is empty")
    try:
        container = av.open(str(path))
    except av.FFmpegError as exc:
        raise VideoDecodeError(f"{path}: not a readable video ({_reason(exc)})") from exc
    with container:
        if not container.streams.video:
            raise VideoDecodeError(f"{path}: has no video stream")
        vstream = container.streams.video[0]
        vstream.thread_type = "AUTO"
        astream = container.streams.audio[0] if (audio and container.streams.audio) else None
        fps = _frame_rate(vstream)
        frames: list[np.ndarray] = []
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
                        frames.append(_upright(frame))
                        times.append(frame.time)
                    elif resampler is not None:
                        if audio_start is None:
                            audio_start = frame.time
                        chunks.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(frame))
                if max_frames is not None and len(frames) >= max_frames:
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
        frames = frames[:max_frames]
    elif declared and len(frames) / fps < TRUNCATION_TOLERANCE * declared:
        raise TruncatedVideoError(
            f"{path}: truncated: decoded {len(frames) / fps:.2f} s of the {declared:.2f} s its header declares"
        )
    step = max(1, round(fps / near_fps)) if near_fps else 1
    wave = np.concatenate(chunks).astype(np.int16) if chunks else None
    if wave is not None and audio_start is not None and times and times[0] is not None:
        span = len(frames) / fps  # a lead beyond the video itself is a broken timestamp: bounded
        wave = _aligned(wave, float(np.clip(audio_start - times[0], -span, span)))
    return DecodedVideo(frames=np.stack(frames[::step]), fps=fps / step, audio=wave, declared_duration=declared)


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


def _upright(frame) -> np.ndarray:
    """The frame as a player shows it. Phones store portrait video as landscape pictures
    with a display matrix that says how to turn them; undecoded, the face lies on its side
    and no face detector finds it. frame.rotation is the matrix's counter-clockwise angle
    (libavutil's av_display_rotation_get), and np.rot90 turns counter-clockwise."""
    rgb = frame.to_ndarray(format="rgb24")
    quarter_turns = round((frame.rotation or 0) / 90) % 4
    return np.ascontiguousarray(np.rot90(rgb, quarter_turns)) if quarter_turns else rgb


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
