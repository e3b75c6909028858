"""Two videos, one question: the same person? No enrolment, no store. With a model that carries
fusion rules (the bundled one), the rules decide on the lips, voice and face together
(lipauth.scoring.fusion: they are fitted on clip pairs), at their own threshold; the lips
alone use the clip-against-clip thresholds the model file carries (fitted on clip pairs of
its validation speakers, as `evaluate` scores them), not the template thresholds `verify` uses."""

from __future__ import annotations

import os
from lipauth.auth.decision import Decision
from lipauth.clip import LipClip
from lipauth.errors import InvalidInputError
from lipauth.pad.checks import Check, PresentationChecks
from lipauth.scoring.points import check_point_for_modalities, parse_operating_point
from lipauth.scoring.policy import DecisionPolicy


def clip_pair_policy(embedder, operating_point: str | float = "eer") -> DecisionPolicy:
    raw = dict(embedder.thresholds or {})
    if not raw and not isinstance(operating_point, float):
        raise InvalidInputError("this model carries no clip-pair thresholds; give a numeric operating point")
    if embedder.calibration:
        raw["llr_slope"] = embedder.calibration["a"]
    return DecisionPolicy(raw, operating_point=operating_point, scoring="raw", source="clip pairs of the model's validation speakers")


def compare(
    model, a: str | os.PathLike | LipClip, b: str | os.PathLike | LipClip, *, operating_point: str | float = "eer", checks: PresentationChecks | None = None, modalities: tuple[str, ...] | None = None
) -> Decision:
    """checks: presentation-attack checks to run on both videos (None: none). modalities:
    ("lips", "voice", "face") or a part (None: every modality the model's fusion rules cover,
    the lips alone with a numeric operating point, which is a threshold on their cosine)."""
    from lipauth.auth.modalities import ModalityScorer

    policy = clip_pair_policy(model.embedder, operating_point)
    if isinstance(parse_operating_point(operating_point), float) and modalities is None:
        modalities = ("lips",)
    check_point_for_modalities(parse_operating_point(operating_point), modalities)
    modal = ModalityScorer(modalities, model.embedder.fusion)
    clips = [model.clip(v, audio=checks is not None or modal.needs_audio, face_chips=modal.face_chips, thumbnails=checks is not None) for v in (a, b)]
    ea, eb = model.embedder.embed_clips(clips)
    v = policy.decide(ea[None, :], eb)
    fused = _fused(modal, clips, ea, eb, v.score, policy.operating_point) if modal.extra else None
    ran: list[Check] = []
    if checks is not None:
        for name, clip in zip((_name(a), _name(b)), clips):
            results, _ = checks.run(clip, None)
            for c in results:
                c.extra = {**c.extra, "video": name}
            ran += results
    lips_only = fused is None or fused.accepted is None
    matched, llr, llr_threshold = (v.accepted, v.llr, v.llr_threshold) if lips_only else (fused.accepted, fused.llr, fused.llr_threshold)
    same = matched and all(c.passed for c in ran)
    d = Decision(_name(a), v.score, v.threshold, same, llr, v.operating_point, checks=ran, llr_threshold=llr_threshold, probe=_name(b))
    if fused is not None:
        d.modality_scores, d.left_out, d.fused = fused.scores, fused.left_out, list(fused.modalities)
    return d


def _fused(modal, clips: list[LipClip], ea, eb, lips_score: float, operating_point: str):
    """The fused verdict of clip b against clip a, as a one-clip template (the rules' own
    trials are such clip pairs)."""
    from lipauth.auth.templates import Template

    va, left_a = modal.vectors(clips[0])
    vb, left_b = modal.vectors(clips[1])
    first = Template.from_embeddings("a", ea[None, :], "", modalities={m: v[None, :] for m, v in va.items()})
    left_out = {m: f"{why} (first video)" for m, why in left_a.items()} | {m: f"{why} (second video)" for m, why in left_b.items() if m not in left_a}
    return modal.fuse(lips_score, first, {"lips": eb, **{m: v for m, v in vb.items() if m in va}}, left_out, operating_point, per_user=False)


def _name(v) -> str:
    return v.meta.clip_id if isinstance(v, LipClip) else os.fspath(v)
