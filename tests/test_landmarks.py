import numpy as np
import pytest

from lipauth.errors import InvalidInputError
from lipauth.video.landmarks import available_backends, create_backend
from lipauth.video.landmarks.dlib_backend import DlibLandmarks
from tests.conftest import blank_out


def test_registry_names_both_backends():
    assert available_backends() == ["dlib", "mediapipe"]
    with pytest.raises(InvalidInputError, match="unknown landmark backend"):
        create_backend("openface")


@pytest.mark.parametrize("name, k", [("dlib", 24), ("mediapipe", 40)])
def test_backends_find_lips_on_every_frame(request, grid_decoded, name, k):
    backend = request.getfixturevalue(f"{name}_backend")
    track = backend.track(grid_decoded.frames)
    assert track.points.shape == (grid_decoded.n_frames, k, 2)
    assert track.found.all()
    # The lips sit in the lower half of the face, horizontally near the middle of the frame.
    h, w = grid_decoded.frames.shape[1:3]
    centre = track.points.mean(axis=(0, 1))
    assert 0.3 * w < centre[0] < 0.7 * w and 0.5 * h < centre[1] < 0.95 * h


def test_dlib_tracks_instead_of_detecting_every_frame(grid_decoded, dlib_backend):
    track = dlib_backend.track(grid_decoded.frames)
    # one detection at the start, plus a check every `verify_every` frames
    assert track.detected[0]
    assert track.detected.sum() <= 1 + grid_decoded.n_frames // dlib_backend.verify_every


def test_dlib_tracking_agrees_with_detecting_every_frame(grid_decoded, dlib_backend):
    seed = DlibLandmarks(track=False, upsample=1, max_detect_side=None)  # face_recognition's way
    frames = grid_decoded.frames[:30]
    tracked = dlib_backend.track(frames).points
    detected = seed.track(frames).points
    assert seed.track(frames[:3]).detected.all()
    lip_width = np.ptp(detected[..., 0], axis=1).mean()
    err = np.linalg.norm(tracked - detected, axis=2).mean()
    assert err < 0.1 * lip_width, f"tracked lips are {err:.1f} px from per-frame fits (lip width {lip_width:.0f} px)"


def test_dlib_redetects_after_losing_the_face(grid_decoded, dlib_backend):
    frames = blank_out(grid_decoded.frames[:40], 10, 15)
    track = dlib_backend.track(frames)
    assert not track.found[10:15].any()
    assert track.found[:10].all() and track.found[15:].all()
    assert track.detected[15], "the face must be detected again on the first frame it is back"


@pytest.mark.parametrize("name", ["dlib", "mediapipe"])
def test_no_face_gives_nan(request, name):
    backend = request.getfixturevalue(f"{name}_backend")
    frames = np.full((5, 240, 320, 3), 90, np.uint8)
    track = backend.track(frames)
    assert np.isnan(track.points).all() and not track.found.any()


def test_tracking_state_does_not_leak_between_clips(grid_decoded, mediapipe_backend):
    first = mediapipe_backend.track(grid_decoded.frames[:10]).points
    again = mediapipe_backend.track(grid_decoded.frames[:10]).points
    np.testing.assert_allclose(first, again, atol=1e-3)
