"""dlib's ResNet face encoder (128-d; weights shipped in face_recognition_models) on the
aligned face chips the pipeline makes from the frames it already tracked
(PipelineConfig.face_chips), averaged over the clip. The network runs in torch
(lipauth.encoders.dlib_resnet: dlib's weights, dlib's descriptors to 1e-6, ~7 ms a chip
instead of ~80 and without holding the GIL).

dlib's model was trained on about 3 million faces of ~7,500 people, celebrities among
them (VGG-Face, FaceScrub): public figures in a test set may be people it has seen.
"""

from __future__ import annotations

import numpy as np

from lipauth.clip import LipClip
from lipauth.encoders import ENCODERS
from lipauth.encoders.dlib_resnet import DlibFaceResNet
from lipauth.errors import InvalidInputError
from lipauth.video.face import CHIP_SIZE
from lipauth.video.landmarks.dlib_backend import model_path

DIM = 128
# aligned chips a clip gives the encoder (the pipeline spreads them over the clip; one is its
# middle frame). The mean of 4 separated the shared people no better than the middle one
# (docs/results.md, "Fewer face chips"), and the fusion rules were fitted on one.
CHIPS_PER_CLIP = 1


@ENCODERS.register("face")
class FaceEncoder:
    name = "face"
    dim = DIM
    needs_audio = False  # what the pipeline must keep for it (lipauth.auth.modalities)
    face_chips = CHIPS_PER_CLIP
    missing = "no face fitted"  # why embed gave None

    def __init__(self) -> None:
        self._net = DlibFaceResNet(model_path("dlib_face_recognition_resnet_model_v1.dat"))

    def embed_chips(self, chips: np.ndarray) -> np.ndarray | None:
        """(n, 150, 150, 3) uint8 RGB aligned chips -> the L2-normalised mean descriptor; None if n is 0."""
        if chips.ndim != 4 or chips.shape[1:] != (CHIP_SIZE, CHIP_SIZE, 3) or chips.dtype != np.uint8:
            raise InvalidInputError(f"face chips must be (n, {CHIP_SIZE}, {CHIP_SIZE}, 3) uint8, got {chips.shape} {chips.dtype}")
        if not len(chips):
            return None
        mean = self._net.descriptors(chips).mean(axis=0)
        return mean / np.linalg.norm(mean)

    def warm_up(self) -> None:
        """Run the network once: torch's first call on a new shape costs ~0.1 s."""
        self._net.descriptors(np.zeros((1, CHIP_SIZE, CHIP_SIZE, 3), np.uint8))

    def embed(self, clip: LipClip) -> np.ndarray | None:
        """The clip's face vector, or None where the pipeline kept no chips (no face fitted,
        or a backend without dlib's 68 points)."""
        chips = clip.views.chips
        return None if chips is None else self.embed_chips(np.asarray(chips))
