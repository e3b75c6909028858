"""`lipauth train --config configs/fusion.yaml` with `kind: fusion`: fusion rules for a lip
model (lipauth.scoring.fusion), fitted on labelled face videos with their own speech, and
written into a copy of the model file.

Every clip of the sources goes through the model's pipeline once (with its audio and 4
aligned face chips); the lips, voice and face vectors of every pair of clips make a trial.
The rules are fitted on all the trials; the report also says how the same fitting does on
people it did not see (lipauth.scoring.fusion.cross_validated_llr), which is the figure to
quote. `method: early` trains a joint embedding of the vectors instead
(lipauth.scoring.joint), with its own held-out estimate.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from lipauth.recipes import RECIPES
from lipauth.errors import EmptyCorpusError, InvalidInputError, LipauthError


class FusionSource(BaseModel):
    model_config = ConfigDict(extra="forbid")
    corpus: str  # a lipauth corpus reader: grid, crema-d, talking-faces, folder
    path: str  # under --data
    speaker: str | None = None  # the person on every clip (GRID folders do not name one)
    max_clips: int | None = None  # the first N clips (sorted by path)
    skip_people: list[str] = Field(default_factory=list)  # people kept out (to test on them)
    # "one": the folder is one recording session per person (GRID's studio); "per_clip":
    # every file is its own recording (the talking faces), so two clips of a person are
    # a pair across sessions
    sessions: Literal["one", "per_clip"] = "one"


class FusionRecipe(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str
    model: str = "bundled"  # the lip model the rules are for: "bundled" or a model file
    modalities: list[str] = Field(default_factory=lambda: ["lips", "voice", "face"])
    sources: dict[str, FusionSource]
    folds: int = 4  # people folds of the held-out estimate
    balance_sessions: bool = True  # weigh genuine pairs across sessions as much as those within (scoring.fusion.session_weights)
    # "calibrated": each modality's cosine calibrated to an LLR on its own, the LLRs summed
    # (scoring.fusion.ScoreFusion.fit_per_modality, the default); "late": one logistic
    # regression on every cosine; "early": a joint embedding of the vectors, trained with a
    # contrastive loss (scoring.joint)
    method: Literal["calibrated", "late", "early"] = "calibrated"
    # with method calibrated: the modalities whose LLR counts (None: all); the others are
    # reported in every decision and weigh 0. The report gives each modality's AUC on the
    # genuine pairs across recordings, the evidence for this choice.
    weigh: list[str] | None = None
    joint: dict = Field(default_factory=dict)  # scoring.joint.JointSettings fields, for method: early


@dataclass(frozen=True)
class ClipVectors:
    person: str
    session: str
    vectors: dict[str, np.ndarray]  # modality -> vector


@RECIPES.register("fusion")
def run_fusion(raw: dict, data: Path, out: Path, where: str = "recipe") -> dict:
    from lipauth.api import load_model
    from lipauth.recipes.pad import parse

    r = parse(FusionRecipe, raw, where)
    model = load_model(None if r.model == "bundled" else r.model)
    clips, failed = embed_sources(r, data, model, where)
    path, report = save_fused(model, clips, r, out, where)
    table = report.pop("table")
    if failed:
        table += f"\n{len(failed)} clips left out: " + "; ".join(f"{Path(k).name} ({v})" for k, v in sorted(failed.items()))
    return {"model": path, "report": {**report, "failed": failed, "table": table}}


def save_fused(model, clips: list[ClipVectors], r: FusionRecipe, out: Path, where: str) -> tuple[Path, dict]:
    """Fit the rules on `clips` and write out/model.pt: `model`'s file with them; (its path,
    the report). `model` itself is left as it was."""
    fusion, report = fit_rules(clips, r, where)
    before = (model.embedder.fusion, model.embedder.info)
    model.embedder.fusion = fusion.to_dict()
    model.embedder.info = {**model.embedder.info, "fusion": dict(report)}
    try:
        out.mkdir(parents=True, exist_ok=True)
        # the rules alone too, to read; model.pt (the rules inside) is what ships as lipauth/assets/default_model.pt
        (out / "fusion.json").write_text(json.dumps(model.embedder.fusion, indent=1) + "\n")
        return model.embedder.save(out / "model.pt"), report
    finally:
        model.embedder.fusion, model.embedder.info = before


def embed_sources(r: FusionRecipe, data: Path, model, where: str) -> tuple[list[ClipVectors], dict[str, str]]:
    """Every clip of the recipe's sources through the model's pipeline once, with its lips,
    voice and face vectors; (the clips with every modality, clip -> why it was left out)."""
    from rich.progress import track

    from lipauth.corpora.base import get_corpus
    from lipauth.encoders import create_encoder
    from lipauth.encoders.face import CHIPS_PER_CLIP
    from lipauth.scoring.points import parse_modalities

    modalities = parse_modalities(",".join(r.modalities))
    if len(modalities) < 2:
        raise InvalidInputError(f"{where}: modalities: fusion needs the lips and at least one of voice, face")
    encoders = {m: create_encoder(m) for m in modalities if m != "lips"}
    items = []
    for name, src in r.sources.items():
        folder = data / src.path
        if not folder.is_dir():
            raise InvalidInputError(f"{where}: {folder}: no such folder (source {name!r})")
        found = [i for i in get_corpus(src.corpus).items(folder) if str(src.speaker or i.meta.speaker) not in src.skip_people][: src.max_clips]
        items += [(item.path, f"{name}:{src.speaker or item.meta.speaker}", name if src.sessions == "one" else f"{name}:{item.path.name}") for item in found]
    clips, failed = [], {}
    for path, person, session in track(items, description="lips, voice and face of each clip"):
        try:
            clip = model.clip(path, audio=True, face_chips=CHIPS_PER_CLIP if "face" in encoders else 0)
        except LipauthError as exc:  # a clip the pipeline refuses is no trial, and is reported
            failed[str(path)] = str(exc)
            continue
        v = {"lips": model.embedder.embed_clips([clip])[0]}
        v.update({m: e for m, e in ((m, enc.embed(clip)) for m, enc in encoders.items()) if e is not None})
        if len(v) == len(modalities):  # trials need every modality; others are counted below
            clips.append(ClipVectors(person, session, v))
        else:
            failed[str(path)] = f"no {', '.join(m for m in modalities if m not in v)}"
    return clips, failed


def fit_rules(clips: list[ClipVectors], r: FusionRecipe, where: str):
    """(the rules fitted on every pair of `clips`, a report with the held-out estimate)."""
    from lipauth.measure.metrics import eer
    from lipauth.scoring.fusion import ScoreFusion, across_auc, cross_validated_llr, fit_normalised, session_weights
    from lipauth.scoring.joint import JointFusion, JointSettings, cross_validated_joint

    modalities = tuple(clips[0].vectors) if clips else ()
    pairs = list(itertools.combinations(clips, 2))
    if not pairs:
        raise EmptyCorpusError(f"{where}: no two clips with every modality to make a trial")
    scores = {m: np.array([float(a.vectors[m] @ b.vectors[m]) for a, b in pairs]) for m in modalities}
    genuine = np.array([a.person == b.person for a, b in pairs])
    across = np.array([a.session != b.session for a, b in pairs])
    # score fusion weighs the pairs; the joint embedding's loss counts every pair alike
    weights = session_weights(genuine, across) if r.balance_sessions and r.method != "early" else None
    people_a, people_b = np.array([a.person for a, _ in pairs]), np.array([b.person for _, b in pairs])
    n_people = len({c.person for c in clips})
    source = f"{where}: {len(clips)} clips of {n_people} people, {int(genuine.sum())} genuine ({int((genuine & across).sum())} across sessions) / {int((~genuine).sum())} impostor pairs"
    if r.method == "early":
        try:
            settings = JointSettings(**r.joint)
        except TypeError as exc:
            raise InvalidInputError(f"{where}: joint: {exc}") from None
        people, rows = [c.person for c in clips], [c.vectors for c in clips]
        fusion = JointFusion.fit(people, rows, settings, source=f"{source} (early fusion: a joint embedding)")
        template_people = 0  # a joint embedding has no per-user thresholds
        held_out, scored = cross_validated_joint(people, rows, folds=r.folds, settings=settings)  # the same pairs, in the same order
    else:
        per_modality = r.method == "calibrated"
        weigh = tuple(r.weigh) if r.weigh is not None else modalities
        if set(weigh) - set(modalities):
            raise InvalidInputError(f"{where}: weigh: {', '.join(sorted(set(weigh) - set(modalities)))} is not among the modalities ({', '.join(modalities)})")
        if per_modality:
            source += f"; weighing {', '.join(weigh)}" + (f" ({', '.join(m for m in modalities if m not in weigh)}: reported, weight 0)" if set(weigh) != set(modalities) else "")
            fusion = ScoreFusion.fit_per_modality(scores, genuine, source, weights, weigh)
        else:
            fusion = ScoreFusion.fit(scores, genuine, source=source, weights=weights)
        # per-user thresholds from templates of 3 clips of the people who have more
        template_people = fit_normalised(fusion, [(c.person, c.vectors) for c in clips])
        held_out, scored = cross_validated_llr(scores, genuine, people_a, people_b, folds=r.folds, weights=weights, weigh=weigh if per_modality else None)  # fitted as the rules are
    report = {
        "clips": len(clips), "people": n_people, "genuine": int(genuine.sum()), "genuine_across_sessions": int((genuine & across).sum()), "impostor": int((~genuine).sum()),
        "eer_on_fitting_trials": {m: eer(scores[m], genuine)[0] for m in modalities},
        # the evidence for what a calibrated fusion weighs: does the modality hold across recordings?
        "auc_across_recordings": {m: across_auc(scores[m], genuine, across) for m in modalities},
        "per_user_thresholds_from": template_people,  # people whose 3-clip templates set them
    }
    lines = [f"| {m} alone, all trials | {100 * report['eer_on_fitting_trials'][m]:.2f} | {report['genuine']} / {report['impostor']} |" for m in modalities]
    auc = report["auc_across_recordings"]
    if any(v is not None for v in auc.values()):
        lines.append(f"| AUC, the {int((genuine & across).sum())} genuine pairs across recordings against every impostor pair | {', '.join(f'{m} {v:.2f}' for m, v in auc.items() if v is not None)} | |")
    g = genuine[scored]
    if g.any() and not g.all():
        report["held_out"] = {"eer": eer(held_out[scored], g)[0], "lips_eer": eer(scores["lips"][scored], g)[0], "genuine": int(g.sum()), "impostor": int((~g).sum())}
        h = report["held_out"]
        lines += [f"| fused, people held out ({r.folds} folds) | {100 * h['eer']:.2f} | {h['genuine']} / {h['impostor']} |", f"| lips, the same held-out trials | {100 * h['lips_eer']:.2f} | {h['genuine']} / {h['impostor']} |"]
    report["table"] = "| rows | EER % | genuine / impostor |\n|---|---|---|\n" + "\n".join(lines) + f"\n{report['genuine_across_sessions']} genuine pairs across sessions" + (" (weighted as much as those within)" if weights is not None and report["genuine_across_sessions"] else "")
    return fusion, report
