import numpy as np
import pytest

from lipauth.errors import InvalidInputError
from lipauth.video.landmarks import available_backends, create_backend
from lipauth.video.landmarks.dlib_backend import LIP_INDICES, DlibLandmarks
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
    seed = DlibLandmarks(track=False, upsample=1, max_detect_side=None, quick_detect_side=None)  # face_recognition's way
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


@pytest.mark.parametrize("name", ["dlib", "mediapipe"])
def test_tracking_state_does_not_leak_between_clips(request, grid_decoded, name):
    """A backend that has tracked one clip tracks the next as a fresh one does: the first
    clip here is the same face moved 60 px, so a track carried over would start off it."""
    backend = request.getfixturevalue(f"{name}_backend")
    fresh = type(backend)()
    clip = grid_decoded.frames[:10]
    moved = np.roll(grid_decoded.frames[40:50], 60, axis=2)
    backend.track(moved)
    after = backend.track(clip)
    alone = fresh.track(clip)
    np.testing.assert_allclose(after.points, alone.points, atol=1e-3)
    np.testing.assert_array_equal(after.detected, alone.detected)


def _iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - ix * iy
    return ix * iy / union


def test_the_quick_look_finds_the_face_a_full_size_detection_finds(grid_decoded, dlib_backend):
    """A face of a quarter of the frame or more is found on the frame scaled to 320 px, and
    the lips fitted in its box are those fitted in the box a detection at 640 px gives (the
    boxes differ by a step of HOG's scale pyramid; the shape predictor does not mind)."""
    import cv2

    grey = cv2.resize(cv2.cvtColor(grid_decoded.frames[0], cv2.COLOR_RGB2GRAY), (720, 576))
    slow = DlibLandmarks(quick_detect_side=None)
    calls = []
    detector = dlib_backend.detector
    dlib_backend.detector = lambda img, up: calls.append(img.shape) or detector(img, up)
    try:
        quick = dlib_backend._detect(grey)
    finally:
        dlib_backend.detector = detector
    assert calls == [(256, 320)]  # one look, at the reduced size
    full = slow._detect(grey)
    assert _iou(quick, full) > 0.5
    lips_quick, lips_full = dlib_backend._fit(grey, quick)[LIP_INDICES], dlib_backend._fit(grey, full)[LIP_INDICES]
    lip_width = np.ptp(lips_full[:, 0])
    assert np.linalg.norm(lips_quick - lips_full, axis=1).mean() < 0.05 * lip_width


def test_a_face_too_small_for_the_quick_look_is_found_at_full_size(grid_decoded, dlib_backend):
    """In a 1280x1024 frame GRID's face is ~100 px: 25 px at the quick look's 320 px, below
    HOG's 80 px window; the detection at 640 px, upsampled, still finds it."""
    import cv2

    grey = cv2.cvtColor(grid_decoded.frames[0], cv2.COLOR_RGB2GRAY)
    expected = dlib_backend._fit(grey, DlibLandmarks(quick_detect_side=None)._detect(grey))[LIP_INDICES] + (800, 600)
    canvas = np.full((1024, 1280), 100, np.uint8)
    canvas[600:888, 800:1160] = grey
    box = dlib_backend._detect(canvas)
    assert box is not None
    lips = dlib_backend._fit(canvas, box)[LIP_INDICES]
    assert np.linalg.norm(lips - expected, axis=1).mean() < 0.05 * np.ptp(expected[:, 0])


def test_tracking_takes_grey_frames(grid_decoded, dlib_backend):
    """The pipeline hands dlib grey frames (the luma it decodes): the same landmarks."""
    import cv2

    frames = grid_decoded.frames[:20]
    grey = np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames])
    assert dlib_backend.frame_colour == "grey"
    assert np.array_equal(dlib_backend.track(grey).points, dlib_backend.track(frames).points)
