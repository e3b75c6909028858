"""Decoding in a warm child process while this one tracks (lipauth.video.decode_process),
as Verifier.prepare_for_serving sets it up: the same video and landmarks as the thread, the
same errors, and the thread again where the child is busy or gone."""

import os

import numpy as np
import pytest

from lipauth.errors import VideoDecodeError
from lipauth.video.decode_process import SHM_DIR, DecoderProcess
from lipauth.video.pipeline import LipPipeline
from tests.conftest import need
from tests.test_decode import _browser_webm

pytestmark = pytest.mark.skipif(not DecoderProcess.available(), reason="no /dev/shm here: the pipeline decodes in a thread")


@pytest.fixture(scope="module")
def pipelines(dlib_backend):
    """(decoding in a thread, decoding in the child), one backend."""
    threaded, served = LipPipeline(backend=dlib_backend), LipPipeline(backend=dlib_backend)
    assert served.decode_in_a_process() and threaded.decoder is None
    yield threaded, served


def _in_shared_memory(array) -> bool:
    """Whether the array is a view of a mapped file (the child's frames), not a thread's copy."""
    import mmap

    while isinstance(array, np.ndarray):
        array = array.base
    return isinstance(array, memoryview) and isinstance(array.obj, mmap.mmap)


def _ours():
    return {f for f in os.listdir(SHM_DIR) if f.startswith("lipauth-decode-")}


def _same(a, b):
    (va, ta), (vb, tb) = a, b
    assert np.array_equal(va.grey, vb.grey) and np.array_equal(va.chroma, vb.chroma)
    assert (va.audio is None and vb.audio is None) or np.array_equal(va.audio, vb.audio)
    assert (va.fps, va.declared_duration, va.trimmed) == (vb.fps, vb.declared_duration, vb.trimmed)
    assert np.array_equal(ta.points, tb.points, equal_nan=True) and np.array_equal(ta.detected, tb.detected)


def test_the_child_decodes_what_the_thread_decodes(pipelines, tmp_path, grid_decoded):
    threaded, served = pipelines
    before = _ours()
    for path, audio in ((need("grid-s2/video/bbilzs.mpg"), True), (need("grid-s1/video/bbaf2n.mpg"), False), (sorted(need("talking-faces").glob("*.mp4"))[0], True)):
        got = served.decode_and_track(path, audio=audio)
        assert _in_shared_memory(got[0].grey) and _in_shared_memory(got[0].chroma)  # the child decoded it
        _same(got, threaded.decode_and_track(path, audio=audio))
    # a WebM whose header declares 1000 fps: decoded twice, the second pass tracked
    webm = _browser_webm(tmp_path / "browser.webm", grid_decoded.frames[:40])
    got = served.decode_and_track(webm)
    assert got[0].n_frames == 40 and _in_shared_memory(got[0].grey)
    _same(got, threaded.decode_and_track(webm))
    assert _ours() == before  # every shared-memory file unlinked


def test_a_clip_from_the_child_is_the_clip_from_the_thread(pipelines):
    threaded, served = pipelines
    path = need("grid-s2/video/bbaf2a.mpg")
    a, b = served.process(path, audio=True, face_chips=1, thumbnails=True), threaded.process(path, audio=True, face_chips=1, thumbnails=True)
    assert np.array_equal(a.frames, b.frames) and np.array_equal(a.audio, b.audio)
    assert np.array_equal(np.asarray(a.views.chips), np.asarray(b.views.chips)) and np.array_equal(np.asarray(a.views.crops), np.asarray(b.views.crops))


def test_errors_come_back_as_from_the_thread(pipelines, tmp_path):
    threaded, served = pipelines
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all" * 100)
    with pytest.raises(VideoDecodeError) as theirs:
        threaded.decode_and_track(bad)
    with pytest.raises(VideoDecodeError) as ours:
        served.decode_and_track(bad)
    assert str(ours.value) == str(theirs.value)
    assert served.decoder._process.poll() is None  # the child carries on
    _same(served.decode_and_track(need("grid-s2/video/bbilzs.mpg")), threaded.decode_and_track(need("grid-s2/video/bbilzs.mpg")))


def test_a_dead_child_is_replaced_and_a_busy_one_left_to_the_thread(pipelines):
    threaded, served = pipelines
    path = need("grid-s2/video/bbilzs.mpg")
    expected = threaded.decode_and_track(path)
    old = served.decoder._process
    old.kill()
    old.wait()
    got = served.decode_and_track(path)
    _same(got, expected)
    assert _in_shared_memory(got[0].grey) and served.decoder._process is not old  # a new child did it
    with served.decoder._lock:  # another request holds the child
        assert served.decoder.decode_while_tracking(path, {}, lambda frames: None) is None
        got = served.decode_and_track(path)
        _same(got, expected)
        assert not _in_shared_memory(got[0].grey)  # decoded in a thread


def test_a_child_that_dies_mid_video_leaves_it_to_the_thread(pipelines):
    threaded, served = pipelines
    path = sorted(need("talking-faces").glob("*.mp4"))[0]  # long enough to be decoding still
    served.decoder.start()
    child = served.decoder._process

    def track(frames):
        for i, _ in enumerate(frames):
            if i == 0:
                child.kill()
                child.wait()
        return "tracked to the end"

    kwargs = {"audio": True, "max_seconds": 30.0, "max_bytes": 512 << 20}
    assert served.decoder.decode_while_tracking(path, kwargs, track) is None  # the caller decodes in a thread
    assert served.decoder._process is None
    _same(served.decode_and_track(path), threaded.decode_and_track(path))


def test_a_tracker_that_fails_mid_video_leaves_nothing_for_the_next(pipelines):
    """The tracker's error reaches the caller, and the child's messages about that video
    do not reach the next one (its child is replaced)."""
    threaded, served = pipelines
    path = sorted(need("talking-faces").glob("*.mp4"))[0]

    def track(frames):
        next(iter(frames))
        raise RuntimeError("the tracker broke")

    kwargs = {"audio": True, "max_seconds": 30.0, "max_bytes": 512 << 20}
    with pytest.raises(RuntimeError, match="the tracker broke"):
        served.decoder.decode_while_tracking(path, kwargs, track)
    other = need("grid-s2/video/bbilzs.mpg")
    _same(served.decode_and_track(other), threaded.decode_and_track(other))
