import numpy as np
import pytest

from lipauth.errors import LandmarkGapError, NoFaceError
from lipauth.video.gaps import interpolate_gaps, missing_runs


def _points(t=20, k=3):
    # x grows by 2 per frame, y by 1, so linear interpolation must reproduce them exactly
    base = np.arange(t, dtype=np.float32)
    pts = np.zeros((t, k, 2), np.float32)
    pts[..., 0] = 2 * base[:, None] + np.arange(k)
    pts[..., 1] = base[:, None] + 10
    return pts


def test_runs():
    assert missing_runs(np.array([0, 1, 1, 0, 1, 0, 0, 1], bool)) == [(1, 3), (4, 5), (7, 8)]
    assert missing_runs(np.zeros(4, bool)) == []


def test_interior_gap_is_linear():
    truth = _points()
    holed = truth.copy()
    holed[5:9] = np.nan
    filled, missing = interpolate_gaps(holed, max_gap=4, max_missing_fraction=0.5)
    np.testing.assert_allclose(filled, truth, atol=1e-5)
    assert missing.tolist() == [5 <= i < 9 for i in range(20)]


def test_edge_gaps_hold_the_nearest_frame():
    truth = _points()
    holed = truth.copy()
    holed[:2] = np.nan
    holed[-3:] = np.nan
    filled, _ = interpolate_gaps(holed, max_gap=3, max_missing_fraction=0.5)
    np.testing.assert_allclose(filled[:2], np.repeat(truth[2:3], 2, axis=0))
    np.testing.assert_allclose(filled[-3:], np.repeat(truth[-4:-3], 3, axis=0))


def test_long_gap_fails():
    holed = _points()
    holed[3:9] = np.nan
    with pytest.raises(LandmarkGapError, match="6 consecutive frames"):
        interpolate_gaps(holed, max_gap=5, max_missing_fraction=0.9)


def test_too_many_missing_fails():
    holed = _points()
    holed[::2] = np.nan  # half the frames, in gaps of one
    with pytest.raises(LandmarkGapError, match="10 of 20"):
        interpolate_gaps(holed, max_gap=5, max_missing_fraction=0.25)


def test_no_face_at_all():
    with pytest.raises(NoFaceError):
        interpolate_gaps(np.full((5, 3, 2), np.nan, np.float32), max_gap=5, max_missing_fraction=0.5)


def test_nothing_missing_is_untouched():
    truth = _points()
    filled, missing = interpolate_gaps(truth, max_gap=1, max_missing_fraction=0.0)
    np.testing.assert_array_equal(filled, truth)
    assert not missing.any()
