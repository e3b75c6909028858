"""Landmarks tracked in a warm worker process beside the decoding (lipauth.video.landmarks.worker):
the same clip as tracking here, and nothing lost when the worker fails."""

import threading

import numpy as np
import pytest

from lipauth.video.encode import write_video
from lipauth.video.pipeline import LipPipeline, PipelineConfig


@pytest.fixture(scope="module")
def pipelines():
    """The same pipeline twice: one tracks here, one in the worker."""
    here, there = LipPipeline(PipelineConfig(face_chips=1, face_crops=8, thumbnails=True)), LipPipeline(PipelineConfig(face_chips=1, face_crops=8, thumbnails=True))
    assert there.start_tracking_worker() and not here._worker
    return here, there


def _same(a, b):
    assert np.array_equal(a.frames, b.frames) and np.array_equal(a.landmarks, b.landmarks) and np.array_equal(a.boxes, b.boxes)
    assert np.array_equal(a.audio, b.audio) and np.array_equal(a.views.chips, b.views.chips) and np.array_equal(a.views.crops, b.views.crops)
    assert np.array_equal(a.extra["detected"], b.extra["detected"])


def test_a_clip_tracked_in_the_worker_is_the_clip_tracked_here(pipelines, grid_video, crema_video):
    here, there = pipelines
    for video in (grid_video, crema_video):
        _same(here.process(video), there.process(video))
    assert there._worker is not None and there._worker.alive


def test_a_second_decoding_pass_is_tracked_again_in_the_worker(pipelines, grid_decoded, tmp_path):
    """A 50 fps file whose header says 25: decode_video finds out from the timestamps and
    decodes again, thinned; the worker's first track is dropped, the second kept."""
    here, there = pipelines
    path = write_video(tmp_path / "fast.avi", np.repeat(grid_decoded.frames, 2, axis=0), 50.0, grid_decoded.audio)
    a, b = here.process(path), there.process(path)
    _same(a, b)
    assert b.n_frames == grid_decoded.n_frames


def test_a_decoding_error_reaches_the_caller_and_the_worker_goes_on(pipelines, grid_video, tmp_path):
    from lipauth.errors import VideoDecodeError

    _, there = pipelines
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 4096)
    with pytest.raises(VideoDecodeError):
        there.process(bad)
    assert there._worker is not None and there._worker.alive
    assert there.process(grid_video).n_frames == 75


def test_a_busy_worker_leaves_the_next_clip_to_this_process(pipelines, grid_video):
    here, there = pipelines
    with there._worker.lock:  # another request is using it
        _same(here.process(grid_video), there.process(grid_video))


def test_a_dead_worker_is_dropped_and_the_clip_tracked_here(grid_video):
    here, there = LipPipeline(), LipPipeline()
    assert there.start_tracking_worker()
    worker = there._worker
    worker._process.kill()
    worker._process.wait()
    _same(here.process(grid_video), there.process(grid_video))
    assert there._worker is None
    assert there.start_tracking_worker() and there._worker is not worker and there._worker.alive  # a new one on asking


def test_two_threads_through_one_pipeline_each_get_their_clip(pipelines, grid_video, crema_video):
    here, there = pipelines
    want = {v: here.process(v) for v in (grid_video, crema_video)}
    got = {}
    threads = [threading.Thread(target=lambda v=v: got.__setitem__(v, there.process(v))) for v in want]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for v in want:
        _same(want[v], got[v])
