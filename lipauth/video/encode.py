"""Write frames (and optionally a 16 kHz mono track) to a video file with PyAV.

Used to make test videos in every container lipauth reads, dubbed or shifted videos for the
anti-spoofing tests, and the demo's synthetic corpus. The codec follows the extension.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from lipauth.clip import AUDIO_RATE
from lipauth.errors import InvalidInputError

# extension -> (video codec, audio codec)
CODECS = {
    ".mp4": ("libx264", "aac"),
    ".mkv": ("libx264", "aac"),
    ".mov": ("libx264", "aac"),
    ".avi": ("mpeg4", "mp3"),
    ".mpg": ("mpeg1video", "mp2"),
    ".flv": ("flv", "mp3"),
}


def write_video(
    path: str | os.PathLike, frames: np.ndarray | Iterable[np.ndarray], fps: float, audio: np.ndarray | None = None, *, codec_options: dict[str, str] | None = None
) -> Path:
    """frames: (T, H, W, 3) uint8 RGB, or an iterable of (H, W, 3) frames of one size (a
    long high-resolution video need not fit in memory); H and W are rounded down to even
    sizes. audio: int16 at 16 kHz. codec_options: passed to the video encoder (for libx264,
    {"preset": "ultrafast"} writes large test videos quickly)."""
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in CODECS:
        raise InvalidInputError(f"cannot write {ext!r} videos; use one of {', '.join(CODECS)}")
    if isinstance(frames, (np.ndarray, list, tuple)) or not isinstance(frames, Iterable):
        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise InvalidInputError(f"frames must be (T, H, W, 3) uint8, got {frames.shape} {frames.dtype}")
        first, frames = frames[0], iter(frames)
    else:
        frames = iter(frames)
        first = next(frames, None)
        if first is None or first.ndim != 3 or first.shape[-1] != 3 or first.dtype != np.uint8:
            raise InvalidInputError("frames must be (H, W, 3) uint8 images, and at least one")
        frames = itertools.chain([first], frames)
    h, w = first.shape[0] // 2 * 2, first.shape[1] // 2 * 2
    vcodec, acodec = CODECS[ext]
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(str(path), mode="w") as container:
        vs = container.add_stream(vcodec, rate=rate if vcodec != "mpeg1video" else Fraction(25))
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        if codec_options:
            vs.options = dict(codec_options)
        if vcodec != "libx264":
            # ffmpeg's own encoders default to 200 kb/s, which smears a mouth into blocks;
            # 8 Mb/s is about what GRID's MPEG-1 files use
            vs.bit_rate = 8_000_000
        if vcodec == "mpeg1video" and abs(float(rate) - 25) > 1e-6:
            raise InvalidInputError("MPEG-1 output is written at 25 fps only")
        astream = None
        if audio is not None:
            # MPEG audio (mp2, mp3) in MPEG-PS and FLV takes 44.1 kHz; AAC takes 16 kHz as it is.
            astream = container.add_stream(acodec, rate=AUDIO_RATE if acodec == "aac" else 44100)
            astream.layout = "mono"
        for frame in frames:
            for packet in vs.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame[:h, :w]), format="rgb24")):
                container.mux(packet)
        for packet in vs.encode():
            container.mux(packet)
        if astream is not None:
            _write_audio(container, astream, np.asarray(audio, dtype=np.int16))
    return path


def _write_audio(container, stream, audio: np.ndarray) -> None:
    # Resample from 16 kHz s16 to whatever the encoder wants (aac needs fltp, mp2 44.1 kHz).
    source = av.AudioFrame.from_ndarray(audio.reshape(1, -1), format="s16", layout="mono")
    source.sample_rate = AUDIO_RATE
    resampler = av.AudioResampler(format=stream.codec_context.format.name, layout="mono", rate=stream.codec_context.sample_rate)
    frame_size = stream.codec_context.frame_size or 1024
    pending = resampler.resample(source) + resampler.resample(None)
    samples = np.concatenate([f.to_ndarray() for f in pending], axis=1) if pending else np.zeros((1, 0))
    pts = 0
    for start in range(0, samples.shape[1], frame_size):
        chunk = samples[:, start : start + frame_size]
        if chunk.shape[1] < frame_size:
            chunk = np.pad(chunk, ((0, 0), (0, frame_size - chunk.shape[1])))
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format=stream.codec_context.format.name, layout="mono")
        frame.sample_rate = stream.codec_context.sample_rate
        frame.pts = pts
        pts += frame_size
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
