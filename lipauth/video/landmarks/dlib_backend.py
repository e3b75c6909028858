"""dlib backend: HOG face detector + the 68-point shape predictor from face_recognition_models.

Lip points are face_recognition's `top_lip` + `bottom_lip` (24 coordinates, some shared),
which is what the WhisperNet seed feeds its landmark branch.

Detect once, then track: each frame's predictor box is the previous frame's landmarks
mapped back to a detector-style box, so most frames cost one predictor fit (1-3 ms) instead
of a HOG detection (10-170 ms). The predictor alone cannot tell that the face has gone (it
fits a plausible mouth to any box, even a blank one), so every frame the image inside the
box is compared with the last frame's (a 24x24 normalised cross-correlation, ~0.05 ms), and
every `verify_every` frames a detection in a window around the face confirms the track. A
full-frame detection runs only when one of those checks, or the landmarks' geometry, says
the track is lost.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Iterable

import cv2
import numpy as np

from lipauth.errors import BackendUnavailableError
from lipauth.video.landmarks.base import LandmarkTrack, register_backend

# face_recognition's top_lip and bottom_lip, as indices into dlib's 68 points.
TOP_LIP = [48, 49, 50, 51, 52, 53, 54, 64, 63, 62, 61, 60]
BOTTOM_LIP = [54, 55, 56, 57, 58, 59, 48, 60, 67, 66, 65, 64]
LIP_INDICES = np.array(TOP_LIP + BOTTOM_LIP)


def model_path(filename: str = "shape_predictor_68_face_landmarks.dat") -> Path:
    """Locate a model shipped by face_recognition_models without importing the package
    (its __init__ needs pkg_resources from an old setuptools)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or spec.origin is None:
        raise BackendUnavailableError("dlib backend needs the face_recognition_models package (pip install face_recognition_models)")
    path = Path(spec.origin).parent / "models" / filename
    if not path.is_file():
        raise BackendUnavailableError(f"dlib model file missing: {path}")
    return path


@register_backend("dlib")
class DlibLandmarks:
    name = "dlib"
    n_points = len(LIP_INDICES)
    frame_colour = "grey"  # HOG and the shape predictor see grey; RGB frames are converted

    def __init__(
        self,
        *,
        track: bool = True,
        upsample: int = 0,
        max_detect_side: int | None = 640,
        quick_detect_side: int | None = 320,
        verify_every: int = 25,
    ) -> None:
        """track=False, upsample=1, max_detect_side=None, quick_detect_side=None is the
        seed's approach (face_recognition.face_locations + face_landmarks on every frame).
        quick_detect_side: look for the face at this size first (6 vs 29 ms for a 720x576
        frame), where HOG finds faces of a quarter of the frame's side or more; a smaller
        face is then looked for at max_detect_side."""
        try:
            import dlib
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise BackendUnavailableError("dlib backend needs dlib (pip install dlib-bin)") from exc
        self._dlib = dlib
        self.detector = dlib.get_frontal_face_detector()
        self.predictor = dlib.shape_predictor(str(model_path()))
        self.tracking = track
        self.upsample = upsample
        self.max_detect_side = max_detect_side
        self.quick_detect_side = quick_detect_side
        self.verify_every = verify_every

    # -- public ---------------------------------------------------------------------------
    def track(self, frames: Iterable[np.ndarray], *, max_missing_run: int | None = None) -> LandmarkTrack:
        points: list[np.ndarray] = []
        faces: list[np.ndarray] = []  # all 68 points, for face alignment
        detected: list[bool] = []
        run = 0  # face-less frames in a row
        box = None  # predictor box for this frame: the last frame's landmarks, as a face box
        reference = None  # the last frame's face patch inside `box`, for the appearance check
        since_check = 0
        for frame in frames:
            grey = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
            ran_detector = False
            if not self.tracking or box is None:
                box, ran_detector = self._detect(grey), True
            elif since_check >= self.verify_every:
                box, ran_detector = self._detect_near(grey, box), True
            elif not _same_face(reference, _face_patch(grey, box)):
                box, ran_detector = self._detect(grey), True  # the track is lost: look again
            if ran_detector:
                since_check = 0
            pts = self._fit(grey, box) if box is not None else None
            fitted = _box_from_landmarks(pts) if pts is not None else None
            if pts is not None and not ran_detector and not self._plausible(pts, box, fitted, grey.shape):
                box, ran_detector, since_check = self._detect(grey), True, 0
                pts = self._fit(grey, box) if box is not None else None
                fitted = _box_from_landmarks(pts) if pts is not None else None
            if pts is None:
                points.append(np.full((self.n_points, 2), np.nan, np.float32))
                faces.append(np.full((68, 2), np.nan, np.float32))
                box = reference = None
            else:
                points.append(pts[LIP_INDICES].astype(np.float32))
                faces.append(pts)
                box = fitted
                reference = _face_patch(grey, box) if self.tracking else None
            detected.append(ran_detector)
            since_check += 1
            run = run + 1 if pts is None else 0
            if max_missing_run and run >= max_missing_run:
                break
        if not points:
            return LandmarkTrack(np.zeros((0, self.n_points, 2), np.float32), np.zeros(0, bool), np.zeros((0, 68, 2), np.float32))
        return LandmarkTrack(np.stack(points), np.array(detected), np.stack(faces))

    # -- steps ----------------------------------------------------------------------------
    def _detect(self, grey: np.ndarray):
        """Largest face in the whole frame, as a box in frame pixels, or None."""
        if self.quick_detect_side and max(grey.shape) > self.quick_detect_side:
            box = self._detect_at(grey, self.quick_detect_side, 0)
            if box is not None:
                return box
        box = self._detect_at(grey, self.max_detect_side, self.upsample)
        if box is None and self.tracking and self.upsample == 0:
            box = self._detect_at(grey, self.max_detect_side, 1)  # small faces: HOG finds ~80 px faces at upsample 0
        return box

    def _detect_at(self, grey: np.ndarray, side: int | None, upsample: int):
        """Largest face found with the frame scaled down to at most `side` pixels, or None."""
        scale = 1.0
        img = grey
        if side and max(grey.shape) > side:
            scale = side / max(grey.shape)
            img = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        rects = self.detector(img, upsample)
        if len(rects) == 0:
            return None
        r = max(rects, key=lambda r: r.width() * r.height())
        return (r.left() / scale, r.top() / scale, r.right() / scale, r.bottom() / scale)

    def _detect_near(self, grey: np.ndarray, box):
        """Confirm the track with a detection in a window twice the face's size; None if lost."""
        x0, y0, x1, y1 = box
        w, h = x1 - x0, y1 - y0
        wx0, wy0 = int(max(0, x0 - w / 2)), int(max(0, y0 - h / 2))
        wx1, wy1 = int(min(grey.shape[1], x1 + w / 2)), int(min(grey.shape[0], y1 + h / 2))
        window = np.ascontiguousarray(grey[wy0:wy1, wx0:wx1])
        if window.size == 0:
            return None
        # HOG's window is 80 px: a face larger than NEAR_FACE_SIDE is looked for at that size
        # (a quarter of the pixels for GRID's 200 px faces), a smaller one upsampled
        scale = min(1.0, NEAR_FACE_SIDE / max(min(w, h), 1.0)) if self.quick_detect_side else 1.0
        if scale < 1.0:
            window = cv2.resize(window, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        upsample = 0 if min(w, h) * scale >= 90 else 1
        rects = self.detector(window, upsample)
        if len(rects) == 0:
            return None
        r = max(rects, key=lambda r: r.width() * r.height())
        return (r.left() / scale + wx0, r.top() / scale + wy0, r.right() / scale + wx0, r.bottom() / scale + wy0)

    def _fit(self, grey: np.ndarray, box) -> np.ndarray:
        rect = self._dlib.rectangle(*(int(round(v)) for v in box))
        shape = self.predictor(grey, rect)
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)

    @staticmethod
    def _plausible(pts: np.ndarray, box, fitted, shape) -> bool:
        """A fit that wandered off the face leaves the box it was given, or shrinks/grows
        (`fitted`: the box of the fitted landmarks)."""
        size = box[2] - box[0]
        shift = np.hypot(fitted[0] - box[0], fitted[1] - box[1])
        ratio = (fitted[2] - fitted[0]) / max(size, 1e-6)
        h, w = shape
        inside = pts[:, 0].min() > -0.1 * size and pts[:, 1].min() > -0.1 * size and pts[:, 0].max() < w + 0.1 * size and pts[:, 1].max() < h + 0.1 * size
        return bool(inside and shift < 0.25 * size and 0.8 < ratio < 1.25)


NEAR_FACE_SIDE = 110  # px: the face's size for the confirming detection near the track

# Normalised cross-correlation of 24x24 face patches in consecutive frames, measured on 931
# frame pairs of the GRID and CREMA-D samples: min 0.865, 1st percentile 0.951, median 0.996.
# A frame of another video in the same box scored -0.14..0.82; a blank frame has no texture.
SAME_FACE_NCC = 0.7
MIN_TEXTURE = 2.0  # grey-level std below which a patch is blank (no face can be there)


def _face_patch(grey: np.ndarray, box) -> np.ndarray | None:
    """The box's contents at 24x24, zero-mean and unit-variance; None if blank or off-frame."""
    h, w = grey.shape
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if x1 - x0 < 8 or y1 - y0 < 8:
        return None
    patch = cv2.resize(grey[y0:y1, x0:x1], (24, 24), interpolation=cv2.INTER_AREA).astype(np.float32)
    std = patch.std()
    if std < MIN_TEXTURE:
        return None
    return (patch - patch.mean()) / std


def _same_face(reference: np.ndarray | None, current: np.ndarray | None) -> bool:
    """Did the image inside the tracked box stay the same face from one frame to the next?"""
    if reference is None or current is None:
        return False
    return float((reference * current).mean()) >= SAME_FACE_NCC


def _box_from_landmarks(pts: np.ndarray):
    """A square box shaped like dlib's HOG detections around the 68 landmarks.

    Measured on 95 HOG detections (upsample 1) in the GRID and CREMA-D samples: the box side
    is 1.07x the landmarks' width (sd 0.08), centred on them horizontally (offset 0.005,
    sd 0.03) and 0.10x the width above their centre (sd 0.03). The predictor was trained on
    such boxes, so feeding it one keeps the tracked fit as good as a detected one.
    """
    x0, y0 = pts.min(axis=0)
    x1, y1 = pts.max(axis=0)
    width = x1 - x0
    side = 1.07 * width
    cx = (x0 + x1) / 2
    cy = (y0 + y1) / 2 - 0.10 * width
    return (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)
