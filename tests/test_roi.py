import numpy as np
import pytest

from lipauth.errors import InvalidInputError
from lipauth.clip import CropSpec
from lipauth.video.roi import (
    crop_frames,
    denormalise_from_boxes,
    fit_crop_to_aspect,
    lip_boxes,
    normalise_to_boxes,
)


def _mouth(t=30, cx=160.0, cy=120.0, w=60.0, h=20.0, jitter=0.0, seed=0):
    """An ellipse of 20 lip points per frame, optionally with per-frame jitter of the centre."""
    rng = np.random.default_rng(seed)
    angles = np.linspace(0, 2 * np.pi, 20, endpoint=False)
    pts = np.stack([cx + w / 2 * np.cos(angles), cy + h / 2 * np.sin(angles)], axis=1)
    shifts = rng.normal(0, jitter, size=(t, 1, 2)) if jitter else np.zeros((t, 1, 2))
    return (pts[None] + shifts).astype(np.float32)


@pytest.mark.parametrize("size", [(30, 18), (80, 60), (64, 64), (40, 60)])
def test_boxes_have_the_target_aspect_and_hold_the_lips(size):
    spec = CropSpec(*size)
    pts = _mouth()
    boxes = lip_boxes(pts, spec)
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    np.testing.assert_allclose(w / h, spec.aspect, rtol=1e-5)
    lm = normalise_to_boxes(pts, boxes)
    assert lm.min() > 0 and lm.max() < 1
    # This 60x20 mouth is wide for every tested aspect, so the lips' padded width sets the box:
    # `padding` of the lips' width lies on each side of them, i.e. a margin of p / (1 + 2p).
    margin_x = min(lm[..., 0].min(), 1 - lm[..., 0].max())
    assert margin_x == pytest.approx(spec.padding / (1 + 2 * spec.padding), abs=1e-4)


def test_crop_shapes_and_colour():
    frames = np.random.default_rng(0).integers(0, 255, (30, 240, 320, 3), dtype=np.uint8)
    boxes = lip_boxes(_mouth(), CropSpec())
    grey = crop_frames(frames, boxes, CropSpec(30, 18, color="grey"))
    rgb = crop_frames(frames, boxes, CropSpec(30, 18, color="rgb"))
    assert grey.shape == (30, 18, 30) and grey.dtype == np.uint8
    assert rgb.shape == (30, 18, 30, 3) and rgb.dtype == np.uint8


def test_crop_takes_the_right_pixels():
    """A bright square drawn where the lips are must fill the crop's centre."""
    frames = np.zeros((30, 240, 320, 3), np.uint8)
    frames[:, 115:125, 150:170] = 255
    crops = crop_frames(frames, lip_boxes(_mouth(), CropSpec(30, 18)), CropSpec(30, 18))
    assert crops[:, 8:10, 14:16].min() > 200  # centre bright
    assert crops[:, :3].max() < 30 and crops[:, :, :3].max() < 30  # edges dark


def test_box_leaving_the_frame_is_padded_not_an_error():
    frames = np.full((30, 100, 100, 3), 77, np.uint8)
    pts = _mouth(cx=5, cy=95)  # the mouth is at the corner
    crops = crop_frames(frames, lip_boxes(pts, CropSpec()), CropSpec())
    assert crops.shape == (30, 18, 30) and (crops == 77).all()


def test_smoothing_removes_jitter():
    pts = _mouth(jitter=3.0)
    raw = lip_boxes(pts, CropSpec(center_sigma=0, size_sigma=0))
    smooth = lip_boxes(pts, CropSpec(center_sigma=2, size_sigma=6))
    raw_motion = np.abs(np.diff(raw[:, 0])).mean()
    smooth_motion = np.abs(np.diff(smooth[:, 0])).mean()
    assert smooth_motion < 0.35 * raw_motion


def test_normalise_roundtrip():
    pts = _mouth(jitter=2.0)
    boxes = lip_boxes(pts, CropSpec())
    np.testing.assert_allclose(denormalise_from_boxes(normalise_to_boxes(pts, boxes), boxes), pts, atol=1e-3)


def test_lip_crop_corpora_are_trimmed_to_aspect_not_squashed():
    # 80x60 frames with a vertical stripe at x=40: after trimming to 5:3 and resizing to 30x18
    # the stripe must still be in the middle column band and vertical.
    frames = np.zeros((3, 60, 80), np.uint8)
    frames[:, :, 38:42] = 255
    out = fit_crop_to_aspect(frames, CropSpec(30, 18))
    assert out.shape == (3, 18, 30)
    assert out[:, :, 14:16].min() > 150 and out[:, :, :10].max() < 10


def test_bad_specs_and_shapes():
    with pytest.raises(InvalidInputError):
        CropSpec(2, 2)
    with pytest.raises(InvalidInputError):
        CropSpec(color="sepia")
    with pytest.raises(InvalidInputError, match="WIDTHxHEIGHT"):
        CropSpec.parse_size("30by18")
    assert CropSpec.parse_size("80x60") == (80, 60)
    with pytest.raises(InvalidInputError):
        lip_boxes(np.full((3, 4, 2), np.nan), CropSpec())
