"""Face liveness by texture (lipauth.pad.texture, after Määttä et al. 2011), the check
`verify --liveness` runs as face_liveness: the LBP texture of the probe's face crops (the
8 64x64 crops the pipeline keeps) against an SVM that learned print texture from NUAA.

A clip passes when the median crop's margin over the model's threshold is at least 0: one
blurred or half-turned crop does not decide. Keeps no enrolment state: texture is the
probe's own. What it cannot see: a replay on a screen sharp enough to keep skin texture,
and anything NUAA's prints do not show (docs/pad.md says what it was measured on)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lipauth.artifacts import TEXTURE_MODEL, bundled
from lipauth.clip import LipClip
from lipauth.pad.checks import Check, not_run, register_check
from lipauth.pad.texture import TextureLiveness


class FaceTextureCheck:
    name = "face_liveness"

    def __init__(self, model: TextureLiveness) -> None:
        self.model = model
        self.model_id = model.id

    def enrol(self, clips: list[LipClip]) -> None:
        return None

    def run(self, clip: LipClip, state: dict | None = None, *, require_audio: bool = False) -> Check:
        crops = clip.views.crops
        if not isinstance(crops, np.ndarray) or not len(crops):
            return not_run(self.name, "the clip carries no face crops (only videos processed by lipauth do)")
        margins = self.model.score(crops)
        score = float(np.median(margins))
        live = int((margins >= 0).sum())
        detail = f"LBP texture of {len(margins)} face crops: {live} look live, median margin {score:+.3f}"
        return Check(self.name, score, 0.0, score >= 0.0, detail, extra={"margins": [float(m) for m in margins]})


@register_check("face_liveness")
def face_texture_check(model_path: str | Path | None = None) -> FaceTextureCheck:
    return FaceTextureCheck(TextureLiveness.load(model_path or bundled(TEXTURE_MODEL)))
