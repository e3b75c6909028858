"""MediaPipe FaceMesh backend: 468 face points, of which the 40 on the lips are kept.

FaceMesh in video mode (static_image_mode=False) already detects once and then tracks,
running its face detector again only when tracking confidence drops, which is exactly the
behaviour lipauth wants; the graph is reset between clips so no state leaks across them.
"""

from __future__ import annotations

import os
from typing import Iterable

import numpy as np

from lipauth.errors import BackendUnavailableError
from lipauth.video.landmarks.base import LandmarkTrack, register_backend


@register_backend("mediapipe")
class MediaPipeLandmarks:
    name = "mediapipe"
    n_points = 40
    frame_colour = "rgb"  # FaceMesh takes colour frames

    def __init__(self, *, min_detection_confidence: float = 0.5, min_tracking_confidence: float = 0.5) -> None:
        os.environ.setdefault("GLOG_minloglevel", "2")  # its C++ side logs every graph start
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        try:
            from mediapipe.python.solutions import face_mesh
        except ImportError as exc:
            raise BackendUnavailableError(
                "mediapipe backend needs mediapipe==0.10.21 (the last release that ships FaceMesh; see pins.txt)"
            ) from exc
        self._lip_indices = np.array(sorted({i for edge in face_mesh.FACEMESH_LIPS for i in edge}))
        assert len(self._lip_indices) == self.n_points
        self._mesh = face_mesh.FaceMesh(
            static_image_mode=False,
            max_num_faces=1,
            refine_landmarks=False,
            min_detection_confidence=min_detection_confidence,
            min_tracking_confidence=min_tracking_confidence,
        )

    def track(self, frames: Iterable[np.ndarray], *, max_missing_run: int | None = None) -> LandmarkTrack:
        self._mesh.reset()
        points: list[np.ndarray] = []
        run = 0  # face-less frames in a row
        for frame in frames:
            h, w = frame.shape[:2]
            result = self._mesh.process(np.ascontiguousarray(frame))
            if not result.multi_face_landmarks:
                points.append(np.full((self.n_points, 2), np.nan, np.float32))
                run += 1
                if max_missing_run and run >= max_missing_run:
                    break
                continue
            run = 0
            lm = result.multi_face_landmarks[0].landmark
            pts = np.array([(lm[i].x * w, lm[i].y * h) for i in self._lip_indices], dtype=np.float32)
            points.append(pts)
        n = len(points)
        if n == 0:
            return LandmarkTrack(np.zeros((0, self.n_points, 2), np.float32), np.zeros(0, bool))
        # FaceMesh does not say on which frames its detector ran; report none rather than guess.
        return LandmarkTrack(np.stack(points), np.zeros(n, bool))

    def close(self) -> None:
        self._mesh.close()
