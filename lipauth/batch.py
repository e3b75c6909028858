"""Work over many videos in one process: embed them, or score a trial list. A video that
fails to acquire is recorded with its reason and the rest go on (each video goes through the
pipeline once, however many trials name it)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from lipauth.errors import InvalidInputError, LipauthError

LABELS = {"target": True, "1": True, "genuine": True, "nontarget": False, "0": False, "impostor": False}


@dataclass
class EmbeddedSet:
    paths: list[str]  # the videos that gave an embedding, in order
    embeddings: np.ndarray  # (len(paths), D)
    failures: dict[str, str] = field(default_factory=dict)  # video -> "code: reason"

    def of(self, path: str) -> np.ndarray | None:
        try:
            return self.embeddings[self.paths.index(path)]
        except ValueError:
            return None


def embed_videos(model, videos: list[str | os.PathLike], on_progress: Callable[[int, int], None] | None = None) -> EmbeddedSet:
    paths, rows, failures = [], [], {}
    unique = list(dict.fromkeys(os.fspath(v) for v in videos))
    for i, v in enumerate(unique, 1):
        try:
            rows.append(model.embed(v))
            paths.append(v)
        except LipauthError as exc:
            failures[v] = f"{exc.code}: {exc}"
        if on_progress:
            on_progress(i, len(unique))
    dim = rows[0].shape[0] if rows else 0
    return EmbeddedSet(paths, np.stack(rows) if rows else np.zeros((0, dim), np.float32), failures)


@dataclass
class ClipSet:
    clips: dict[str, object]  # video -> its LipClip
    failures: dict[str, str] = field(default_factory=dict)  # video -> "code: reason"


def clip_videos(model, videos: list[str | os.PathLike], *, audio: bool, face_chips: int, on_progress: Callable[[int, int], None] | None = None) -> ClipSet:
    """Each distinct video through the model's pipeline once, with its audio and face chips
    when the decisions will use them."""
    clips, failures = {}, {}
    unique = list(dict.fromkeys(os.fspath(v) for v in videos))
    for i, v in enumerate(unique, 1):
        try:
            clips[v] = model.clip(v, audio=audio, face_chips=face_chips)
        except LipauthError as exc:
            failures[v] = f"{exc.code}: {exc}"
        if on_progress:
            on_progress(i, len(unique))
    return ClipSet(clips, failures)


def embed_modalities(model, modal, videos: list[str | os.PathLike], on_progress: Callable[[int, int], None] | None = None) -> tuple[EmbeddedSet, dict[str, np.ndarray]]:
    """The lips' embeddings of `videos` (an EmbeddedSet) and, for every other modality `modal`
    (lipauth.auth.modalities.ModalityScorer) runs, an (N, D) array in the same order, NaN rows
    where that modality could not run on a video (no speech, no face)."""
    clips = clip_videos(model, videos, audio=modal.needs_audio, face_chips=modal.face_chips, on_progress=on_progress)
    paths = list(clips.clips)
    lips = model.embedder.embed_clips([clips.clips[p] for p in paths]) if paths else np.zeros((0, 0), np.float32)
    found = [modal.vectors(clips.clips[p])[0] for p in paths]
    others = {}
    for m in modal.extra:
        dim = next((len(f[m]) for f in found if m in f), 0)
        others[m] = np.stack([f.get(m, np.full(dim, np.nan, np.float32)) for f in found]) if paths and dim else np.zeros((len(paths), dim), np.float32)
    return EmbeddedSet(paths, np.asarray(lips, np.float32), clips.failures), others


def write_embeddings(out: str | os.PathLike, embedded: EmbeddedSet, model_id: str, others: dict[str, np.ndarray] | None = None) -> Path:
    """An .npz: embeddings (N, D) float32 (the lips), paths (N,), model_id, the failed videos
    with their reasons (failed_paths, failed_reasons), and each other modality's (N, D) array
    under its name (NaN rows where it could not run)."""
    out = Path(out)
    if out.suffix != ".npz":
        raise InvalidInputError(f"{out}: embeddings are written as .npz")
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        out,
        embeddings=embedded.embeddings.astype(np.float32),
        paths=np.array(embedded.paths, dtype=str),
        model_id=np.array(model_id),
        failed_paths=np.array(list(embedded.failures), dtype=str),
        failed_reasons=np.array(list(embedded.failures.values()), dtype=str),
        **{m: v.astype(np.float32) for m, v in (others or {}).items()},
    )
    return out


@dataclass(frozen=True)
class Trial:
    enrol: str  # a video, or an enrolled user id when scoring against a store
    probe: str
    target: bool | None  # None when the list carries no label


def read_trial_list(path: str | os.PathLike) -> list[Trial]:
    """One trial per line: `ENROL PROBE [LABEL]`, whitespace-separated, LABEL one of
    target/nontarget (also 1/0, genuine/impostor); '#' starts a comment."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"{path}: no such trial list")
    trials = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        parts = line.split("#", 1)[0].split()
        if not parts:
            continue
        if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2].lower() not in LABELS):
            raise InvalidInputError(f"{path}:{n}: expected 'ENROL PROBE [target|nontarget]', got {line.strip()!r}")
        trials.append(Trial(parts[0], parts[1], LABELS[parts[2].lower()] if len(parts) == 3 else None))
    if not trials:
        raise InvalidInputError(f"{path}: no trials")
    labelled = {t.target is None for t in trials}
    if len(labelled) > 1:
        raise InvalidInputError(f"{path}: label every trial or none")
    return trials


@dataclass
class ScoredTrial:
    trial: Trial
    score: float | None  # the decision's LLR (fused where other modalities decided), else its cosine; None on failure
    accepted: bool | None
    error: str = ""


def score_trials(trials: list[Trial], clips: ClipSet, decide: Callable[[str, object], object]) -> list[ScoredTrial]:
    """`decide(enrol, probe_clip)` -> a Decision (lipauth.auth.decision): against an enrolment
    video or an enrolled user, as compare and verify decide. A trial whose video failed, or
    whose user is unknown, is recorded with why and the others go on."""
    out = []
    for t in trials:
        probe = clips.clips.get(t.probe)
        if probe is None:
            out.append(ScoredTrial(t, None, None, clips.failures.get(t.probe, "not processed")))
            continue
        try:
            d = decide(t.enrol, probe)
        except LipauthError as exc:
            out.append(ScoredTrial(t, None, None, f"{exc.code}: {exc}"))
            continue
        out.append(ScoredTrial(t, d.llr if d.llr is not None else d.score, d.accepted))
    return out


def write_bob_scores(out: str | os.PathLike, scored: list[ScoredTrial], header: list[str]) -> Path:
    """The 4-column score file biometric toolkits read (Bob, pyeer), as `evaluate` writes:
    `claimed_id real_id probe_id score`. The real id is the claim for a target trial,
    "nontarget" for a nontarget one and "unknown" without labels; `#` lines carry the header
    and each trial that could not be scored, with why."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"# {h}" for h in header]
    for r in scored:
        t = r.trial
        if r.score is None:
            lines.append(f"# not scored: {t.enrol} {t.probe}: {' '.join(r.error.split())}")
            continue
        real = "unknown" if t.target is None else t.enrol if t.target else "nontarget"
        lines.append(f"{t.enrol} {real} {t.probe} {r.score:.6f}")
    out.write_text("\n".join(lines) + "\n")
    return out
