"""The voice and the face beside the lips in enrol and verify: which encoders run, what
they give a template, and how their scores join the lips' (lipauth.scoring.fusion).

The lips decide alone unless the model carries fusion rules (the bundled one does); then every
modality the verifier was asked for (default: all the rules cover) runs where it can, and the decision says which could not and why
(no speech in the audio, no face chips), using the rule fitted for what is left. The rules
are score fusion (lipauth.scoring.fusion, the default) or a joint embedding of the
modalities' vectors (lipauth.scoring.joint, early fusion), whichever the model file holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lipauth.clip import LipClip
from lipauth.encoders import ENCODERS, create_encoder
from lipauth.errors import BackendUnavailableError, InvalidInputError
from lipauth.scoring.points import in_order
from lipauth.scoring.fusion import ScoreFusion
from lipauth.scoring.joint import JointFusion
from lipauth.scoring.templates import template_vector



@dataclass(frozen=True)
class FusedVerdict:
    scores: dict[str, float]  # cosine per modality that ran, lips included
    left_out: dict[str, str]  # modality -> why it did not run
    llr: float | None  # the fused LLR; None where only the lips ran
    llr_threshold: float | None
    accepted: bool | None  # None: the lips alone decide
    modalities: tuple[str, ...] = field(default_factory=tuple)  # those fused
    how: str = ""  # how the threshold was set: the rule's, or this user's (scoring.fusion)


class ModalityScorer:
    def __init__(self, requested: tuple[str, ...] | None, fusion: dict | None) -> None:
        """requested: the modalities to use (None: all the model's fusion has, else the lips);
        fusion: the model file's fusion rules (LipEmbedder.fusion)."""
        self.fusion = load_fusion(fusion)
        available = self.fusion.modalities if self.fusion else ("lips",)
        self.modalities = requested or available
        missing = [m for m in self.modalities if m not in available]
        if missing:
            raise InvalidInputError(f"this model carries no fusion rules for {', '.join(missing)}: its modalities are {', '.join(available)}")
        self.extra = tuple(m for m in self.modalities if m != "lips")
        self._encoders: dict[str, object] = {}
        self._unavailable: dict[str, str] = {}  # modality -> why its encoder cannot load here

    @property
    def needs_audio(self) -> bool:
        return _needs(self.extra)[0]

    @property
    def face_chips(self) -> int:
        return _needs(self.extra)[1]

    def enrolled(self, template) -> tuple[str, ...]:
        """The modalities asked for, besides the lips, that `template` holds."""
        return tuple(m for m in self.extra if template.modality_vector(m) is not None)

    def probe_needs(self, template) -> tuple[bool, int]:
        """(decode the audio, face chips to keep) for a probe against `template`: only what
        its enrolled modalities use (the sound and the chips add to a 3 s clip's pipeline:
        benchmarks/verify_latency.py)."""
        return _needs(self.enrolled(template))

    def _encoder(self, name: str):
        """The modality's encoder, made on first use (dlib's ResNet and GE2E take ~1 s to
        load); None where its package is not installed (a pip install without resemblyzer):
        the modality is then left out of every decision, which says why."""
        if name not in self._encoders and name not in self._unavailable:
            try:
                self._encoders[name] = create_encoder(name)
            except BackendUnavailableError as exc:
                self._unavailable[name] = str(exc)
        return self._encoders.get(name)

    def warm_up(self) -> None:
        """Load every encoder now and run what compiles on first use (for the service)."""
        for name in self.extra:
            warm = getattr(self._encoder(name), "warm_up", None)
            if warm is not None:
                warm()

    def vectors(self, clip: LipClip, names: tuple[str, ...] | None = None) -> tuple[dict[str, np.ndarray], dict[str, str]]:
        """(modality -> vector, modality -> why it could not run) for one clip, of `names`
        (None: every modality asked for besides the lips)."""
        out, left_out = {}, {}
        for name in self.extra if names is None else names:
            encoder = self._encoder(name)
            if encoder is None:
                left_out[name] = self._unavailable[name]
                continue
            v = encoder.embed(clip)
            if v is None:
                left_out[name] = getattr(encoder, "missing", "nothing this encoder can use")
            else:
                out[name] = v
        return out, left_out

    def enrol(self, clips: list[LipClip]) -> list[dict[str, np.ndarray]]:
        """Per clip, modality -> vector of those that ran (the lips are the caller's)."""
        return [self.vectors(clip)[0] for clip in clips]

    def agreement(self, new: list[dict[str, np.ndarray]], enrolled: dict[str, np.ndarray]) -> list[tuple[dict[str, float], float | None]]:
        """Each new clip (modality -> vector, lips included) against the mean of every other
        clip, new and `enrolled` (modality -> (n, D)): (its cosines, their fused LLR, or None
        where no rule covers the modalities scored)."""
        out = []
        for i, clip in enumerate(new):
            scores = {}
            for m, v in clip.items():
                others = [o[m] for j, o in enumerate(new) if j != i and m in o] + list(enrolled.get(m, ()))
                if others:
                    scores[m] = float(template_vector(np.stack(others)) @ v)
            out.append((scores, self.fusion.score_llr(scores) if self.fusion is not None else None))
        return out

    def decide(self, lips_score: float, template, clip: LipClip, operating_point: str, probe_lips: np.ndarray, per_user: bool = True) -> FusedVerdict:
        """The fused decision of a probe clip against a template (lipauth.auth.templates),
        probe_lips its lip embedding. Only the encoders of modalities the template holds run
        (each costs time: the voice ~13 ms, the face ~9 ms a chip). per_user: the user's own threshold where the rule and the
        template allow it (the verifier's normalised scoring)."""
        enrolled = self.enrolled(template)
        vectors, left_out = self.vectors(clip, enrolled)
        left_out.update({m: self._unavailable.get(m, "not enrolled for this user") for m in self.extra if m not in enrolled})
        return self.fuse(lips_score, template, {"lips": probe_lips, **vectors}, left_out, operating_point, per_user)

    def fuse(self, lips_score: float, template, vectors: dict[str, np.ndarray], left_out: dict[str, str], operating_point: str, per_user: bool = True) -> FusedVerdict:
        """The same, from the probe's vectors already computed, its lip embedding among them
        (identify scores one probe against many templates)."""
        scores, left_out = {"lips": lips_score}, dict(left_out)
        for name, v in vectors.items():
            if name == "lips":
                continue
            enrolled = template.modality_vector(name)
            if enrolled is None:
                left_out[name] = "not enrolled for this user"
            else:
                scores[name] = float(enrolled @ v)
        if self.fusion is None or len(scores) == 1:
            return FusedVerdict(scores, left_out, None, None, None)
        used = in_order(scores)
        judged = self.fusion.judge(scores, {"lips": template.embeddings, **{m: template.modalities[m] for m in used[1:]}}, vectors, per_user)
        if judged is None:
            return FusedVerdict(scores, left_out, None, None, None)
        llr, thresholds, how = judged
        if operating_point not in thresholds:
            raise InvalidInputError(f"fused decisions take a named operating point ({', '.join(thresholds)}), not {operating_point!r}")
        return FusedVerdict(scores, left_out, llr, thresholds[operating_point], llr >= thresholds[operating_point], used, how)


def _needs(names) -> tuple[bool, int]:
    """(decode the audio, face chips to keep) for the encoders of `names`: what each declares
    (needs_audio, face_chips), read from its class without loading its weights."""
    audio, chips = False, 0
    for name in names:
        factory = ENCODERS.get(name)
        audio = audio or bool(getattr(factory, "needs_audio", False))
        chips = max(chips, int(getattr(factory, "face_chips", 0)))
    return audio, chips


def load_fusion(d: dict | None) -> ScoreFusion | JointFusion | None:
    """The fusion a model file carries: score fusion, or early fusion ("method": "early")."""
    if not d:
        return None
    return JointFusion.from_dict(d) if d.get("method") == "early" else ScoreFusion.from_dict(d)
