"""`FaceSample`: face crops of one presentation, bona fide or attack, for face liveness."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FACE_SIZE = 64  # liveness crops are FACE_SIZE x FACE_SIZE RGB


@dataclass
class FaceSample:
    """Face crops of one presentation: (N, 64, 64, 3) uint8 RGB."""

    crops: np.ndarray
    client: str
    bona_fide: bool
    attack: str | None = None  # PAI species, for attacks: "print", "replay", ...
    source: str = ""
