"""The seed's face liveness as a presentation-attack check (lipauth.pad.liveness), opt-in as
face_liveness_siamese: the probe's face crops against the user's own enrolled real faces,
or against the model's bona fide reference where none were enrolled. Enrolment state: the
liveness embeddings of the enrolment clips' face crops, and the id of the model that made
them. The default face_liveness is the texture check (lipauth.pad.face_texture_check): this
network learned from ~20 people's simulated attacks and passed NUAA's photos (EER 48.8 %)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lipauth.artifacts import LIVENESS_MODEL, bundled
from lipauth.clip import LipClip
from lipauth.pad.checks import Check, not_run, register_check
from lipauth.pad.liveness import LivenessModel


class FaceLivenessCheck:
    name = "face_liveness_siamese"

    def __init__(self, model: LivenessModel, point: str = "midpoint") -> None:
        self.model = model
        self.model_id = model.id
        self.point = point  # which of the model's thresholds decides

    def enrol(self, clips: list[LipClip]) -> dict | None:
        crops = [c.views.crops for c in clips if c.views.crops is not None and len(c.views.crops)]
        if not crops:
            return None
        return {"model_id": self.model_id, "refs": self.model.embed(np.concatenate(crops)).tolist()}

    def references(self, state: dict | None) -> tuple[np.ndarray | None, str]:
        """The enrolled embeddings this model can compare with (None: use the reference), and
        what the probe is compared with."""
        if not state:
            return None, "the model's bona fide reference (no face crops enrolled)"
        if state.get("model_id") != self.model_id:
            return None, "the model's bona fide reference: the enrolled face crops were embedded by another liveness model (enrol again to use them)"
        return np.asarray(state["refs"], np.float32), "the enrolled face crops"

    def run(self, clip: LipClip, state: dict | None = None, *, require_audio: bool = False) -> Check:
        crops = clip.views.crops
        if not isinstance(crops, np.ndarray) or not len(crops):
            return not_run(self.name, "the clip carries no face crops (only videos processed by lipauth do)")
        refs, how = self.references(state)
        thr = float(self.model.thresholds[self.point if refs is not None else f"generic_{self.point}"])
        s = self.model.score(crops, refs)
        return Check(self.name, s, thr, s >= thr, f"compared with {how}")


@register_check("face_liveness_siamese")
def face_liveness_check(model_path: str | Path | None = None) -> FaceLivenessCheck:
    return FaceLivenessCheck(LivenessModel.load(model_path or bundled(LIVENESS_MODEL)))
