"""Shared fixtures: the real recordings in ../shared/data, and videos the tests make."""

from __future__ import annotations

import functools
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from lipauth.corpora.shared import default_data_root

DATA = default_data_root()


def need(relative: str) -> Path:
    """The path under the shared data root, or skip the test saying what is missing."""
    path = DATA / relative
    if not path.exists():
        pytest.skip(f"real data not found: {path} (set LIPAUTH_DATA or put shared/data beside the checkout)")
    return path


@pytest.fixture(scope="session")
def data_root() -> Path:
    return need("")


@pytest.fixture(scope="session")
def grid_video() -> Path:
    return need("grid-sample/lwbsza.mpg")


@pytest.fixture(scope="session")
def crema_video() -> Path:
    return need("crema-d-sample/1001_DFA_HAP_XX.flv")


@functools.lru_cache(maxsize=None)
def _decoded(path: str):
    from lipauth.video.decode import decode_video

    return decode_video(path)


@pytest.fixture(scope="session")
def grid_decoded(grid_video):
    return _decoded(str(grid_video))


@pytest.fixture(scope="session")
def dlib_backend():
    from lipauth.video.landmarks import create_backend

    return create_backend("dlib")


@pytest.fixture(scope="session")
def mediapipe_backend():
    from lipauth.video.landmarks import create_backend

    return create_backend("mediapipe")


def blank_out(frames: np.ndarray, start: int, stop: int) -> np.ndarray:
    """A copy of `frames` with frames [start, stop) replaced by a flat grey: no face there."""
    out = frames.copy()
    out[start:stop] = 128
    return out


@pytest.fixture(scope="session")
def lip_model_file():
    """The lip model bundled with lipauth: the product's plumbing needs *a* model, and this
    one costs no training (its accuracy is measured in docs/results.md)."""
    from lipauth.artifacts import LIP_MODEL, bundled

    return bundled(LIP_MODEL)


# -- writing test videos with PyAV where lipauth's write_video cannot (rotation, timestamps,
# stream start times) ------------------------------------------------------------------------
def video_stream(container, codec: str, rate: int, frames):
    """A yuv420p video stream sized for `frames` (T, H, W, 3); 8 Mb/s where the codec takes a
    bit rate (ffmpeg's 200 kb/s default smears the mouth)."""
    s = container.add_stream(codec, rate=rate)
    s.width, s.height, s.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
    if codec != "libvpx":
        s.bit_rate = 8_000_000
    return s


def mux_frames(container, stream, frames, *, ms_per_frame: int | None = None) -> None:
    """Encode RGB frames into `stream` and flush it; with ms_per_frame the frames carry
    millisecond timestamps of their own, as a browser's recorder writes them."""
    import av

    for i, f in enumerate(frames):
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")
        if ms_per_frame is not None:
            vf.pts, vf.time_base = i * ms_per_frame, Fraction(1, 1000)
        for packet in stream.encode(vf):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)


def write_with_audio_starting_at(path, frames, audio, start_s):
    """MKV (MPEG-4 + AAC at 16 kHz) whose audio stream starts `start_s` after the video."""
    import av

    from lipauth.clip import AUDIO_RATE

    with av.open(str(path), "w") as c:
        vs = video_stream(c, "mpeg4", 25, frames)
        aud = c.add_stream("aac", rate=AUDIO_RATE)  # every stream before the first packet
        aud.layout = "mono"
        mux_frames(c, vs, frames)
        pts = int(round(start_s * AUDIO_RATE))
        for i in range(0, len(audio), 1024):
            chunk = (audio[i : i + 1024].astype(np.float32) / 32768).reshape(1, -1)
            af = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
            af.sample_rate, af.pts, af.time_base = AUDIO_RATE, pts, Fraction(1, AUDIO_RATE)
            pts += chunk.shape[1]
            for packet in aud.encode(af):
                c.mux(packet)
        for packet in aud.encode():
            c.mux(packet)
    return path


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server for the session (tests/support/postgres.py), or a skip that
    says what is missing."""
    from tests.support.postgres import PostgresUnavailable, TemporaryPostgres

    try:
        server = TemporaryPostgres().start()
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))
    yield server
    server.stop()


@pytest.fixture()
def postgres_url(postgres, request):
    """A new, empty database on the session's PostgreSQL server."""
    import re

    return postgres.create_database("t_" + re.sub(r"\W", "_", request.node.name)[:50].lower())
