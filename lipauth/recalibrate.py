"""Operating points fitted on the user's own labelled recordings: a model file's thresholds
(EER, FMR 1 %, FMR 0.1 %) and its score-to-LLR calibration, re-fitted on their camera,
lighting and people, written to a new model file. The network and its weights are unchanged.

The recordings are a folder `person/clip.ext` (or any corpus lipauth reads). Two people with
two clips each is the least that forms both kinds of trial; thresholds at FMR 1 % and 0.1 %
need hundreds and thousands of impostor trials to mean anything, and the result says how
many there were.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from lipauth.api import LipModel
from lipauth.corpora.base import get_corpus
from lipauth.errors import InvalidInputError, LipauthError
from lipauth.protocol import make_trials
from lipauth.scoring.calibration import calibrate, calibrate_verification


@dataclass
class Recalibration:
    out: Path
    n_people: int
    n_clips: int
    n_genuine: int  # clip-pair trials the thresholds were fitted on
    n_impostor: int
    before: dict  # verify_thresholds before / after
    after: dict
    failures: dict[str, str] = field(default_factory=dict)
    # the fused decision's rule (every modality): modalities, and its thresholds and
    # normalised thresholds before / after; None where the model fuses nothing
    fused: dict | None = None


def recalibrate(model: LipModel, data: str | os.PathLike, out: str | os.PathLike, *, corpus: str = "folder", on_progress: Callable[[int, int], None] | None = None) -> Recalibration:
    """Thresholds and calibration refitted on the recordings of `data`, written to `out`
    with the same network, so that users enrolled with `model` verify with the new file
    (LipEmbedder.identity). A model with score-fusion rules (the bundled one) has their
    thresholds refitted too, on the same recordings' voices and faces: the fused decision is
    the one verify makes."""
    from lipauth.auth.modalities import ModalityScorer
    from lipauth.scoring.fusion import ScoreFusion, refit_thresholds

    items = get_corpus(corpus).items(Path(data))
    modal = ModalityScorer(None, model.embedder.fusion)
    fusing = isinstance(modal.fusion, ScoreFusion)
    clips, failures = [], {}
    for i, item in enumerate(items, 1):
        try:
            clips.append(model.pipeline.process(item.path, item.meta, audio=modal.needs_audio, face_chips=modal.face_chips))
        except LipauthError as exc:
            failures[str(item.path)] = f"{exc.code}: {exc}"
        if on_progress:
            on_progress(i, len(items))
    per_person: dict[str, int] = {}
    for c in clips:
        per_person[c.meta.speaker] = per_person.get(c.meta.speaker, 0) + 1
    usable = {p for p, n in per_person.items() if n >= 2}
    if len(usable) < 2:
        raise InvalidInputError(f"{data}: calibration needs at least 2 people with 2 usable clips each; found {dict(sorted(per_person.items()))}")
    clips = [c for c in clips if c.meta.speaker in usable]
    emb = model.embedder.embed_clips(clips)
    thresholds, calibration = calibrate(emb, clips)
    verify = calibrate_verification(emb, clips)
    old = model.embedder.verify_thresholds
    if "scoring" in old and (old["scoring"] != "normalised" or "normalised" in verify):
        verify["scoring"] = old["scoring"]  # keep the model's recommendation where it still applies
    trials = make_trials([c.meta for c in clips], "text_independent")
    info = {**model.embedder.info, "recalibrated": {"from_model": model.id, "data": str(data), "people": len(usable), "clips": len(clips)}}
    fusion, fused = model.embedder.fusion, None
    if fusing:
        vectors = [(c.meta.speaker, {"lips": e, **modal.vectors(c)[0]}) for c, e in zip(clips, emb)]
        new = refit_thresholds(modal.fusion, vectors)
        full = modal.fusion.modalities
        was, now = modal.fusion.rule_for(full), new.rule_for(full)
        fusion = {**fusion, **new.to_dict()}
        fused = {"modalities": full, "before": dict(was.thresholds), "after": dict(now.thresholds), "normalised_before": dict(was.normalised), "normalised_after": dict(now.normalised)}
    embedder = dataclasses.replace(model.embedder, thresholds=thresholds, calibration=calibration, verify_thresholds=verify, info=info, fusion=fusion)
    path = embedder.save(out)
    return Recalibration(path, len(usable), len(clips), int(trials.genuine.sum()), int((~trials.genuine).sum()), dict(old), verify, failures, fused)
