"""Work over many videos in one process: embed them, or score a trial list. A video that
fails to acquire is recorded with its reason and the rest go on (each video is decoded and
embedded once, however many trials name it)."""

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


def write_embeddings(out: str | os.PathLike, embedded: EmbeddedSet, model_id: str) -> Path:
    """An .npz: embeddings (N, D) float32, paths (N,), model_id, and the failed videos with
    their reasons (failed_paths, failed_reasons)."""
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
    score: float | None  # None when a video failed to acquire or the user is unknown
    accepted: bool | None
    error: str = ""


def score_trials(trials: list[Trial], embed: EmbeddedSet, decide: Callable[[str, np.ndarray], tuple[float, bool]]) -> list[ScoredTrial]:
    """`decide(enrol, probe_embedding)` -> (score, accepted): against an enrolment video's
    embedding or an enrolled user's template."""
    out = []
    for t in trials:
        probe = embed.of(t.probe)
        if probe is None:
            out.append(ScoredTrial(t, None, None, embed.failures.get(t.probe, "not embedded")))
            continue
        try:
            score, accepted = decide(t.enrol, probe)
        except LipauthError as exc:
            out.append(ScoredTrial(t, None, None, f"{exc.code}: {exc}"))
            continue
        out.append(ScoredTrial(t, score, accepted))
    return out
