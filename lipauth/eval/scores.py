"""Score files, in the 4-column convention of biometric toolkits (Bob, pyeer):
`claimed_id real_id probe_id score`, one trial per line; a trial is genuine when the two ids
are equal. The claimed identity is the enrolment clip's speaker, and in the text-dependent
and wrong-phrase lists the speaker saying a phrase (`speaker/phrase`: a claim there is both);
the probe id names both clips (`probe@enrolment`), so it is unique per trial. Evaluation
writes them; cross-validation pooling and late fusion read them back."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lipauth.errors import InvalidInputError

SCORE_FILES = {"text_independent": "scores.csv", "text_dependent": "scores_text_dependent.csv", "wrong_phrase": "scores_wrong_phrase.csv"}


@dataclass
class ScoreList:
    claimed: np.ndarray  # (N,) str
    real: np.ndarray  # (N,) str
    probe: np.ndarray  # (N,) str, unique per trial
    scores: np.ndarray  # (N,) float

    @property
    def genuine(self) -> np.ndarray:
        return self.claimed == self.real

    @property
    def speakers(self) -> tuple[list[str], list[str]]:
        """The claimed and the real speaker of each trial (what a bootstrap resamples)."""
        return [c.split("/")[0] for c in self.claimed], [r.split("/")[0] for r in self.real]

    def __len__(self) -> int:
        return len(self.scores)

    @classmethod
    def from_trials(cls, metas, trials, scores: np.ndarray, *, with_phrase: bool = False) -> "ScoreList":
        """`trials` (lipauth.protocol.Trials) among clips with these `metas`, and their scores;
        with_phrase: identities are `speaker/phrase` (text-dependent and wrong-phrase trials)."""
        a, b = trials.a, trials.b
        ident = (lambda m: f"{m.speaker}/{m.phrase}") if with_phrase else (lambda m: str(m.speaker))  # noqa: E731
        claimed = np.array([ident(metas[i]) for i in a], dtype=object)
        real = np.array([ident(metas[j]) for j in b], dtype=object)
        if not np.array_equal(claimed == real, np.asarray(trials.genuine, bool)):
            raise InvalidInputError("these trials' labels are not what their identities say (a trial kind needs with_phrase)")
        return cls(
            claimed=claimed,
            real=real,
            probe=np.array([f"{metas[j].clip_id}@{metas[i].clip_id}" for i, j in zip(a, b)], dtype=object),
            scores=np.asarray(scores, np.float64),
        )

    def write(self, path: str | Path) -> Path:
        path = Path(path)
        with open(path, "w", newline="") as fh:
            w = csv.writer(fh, delimiter=" ")
            for row in zip(self.claimed, self.real, self.probe, self.scores):
                w.writerow([*row[:3], f"{row[3]:.6f}"])
        return path

    @classmethod
    def read(cls, path: str | Path) -> "ScoreList":
        path = Path(path)
        if not path.is_file():
            raise InvalidInputError(f"{path}: no such score file")
        numbered = [(n, line.split()) for n, line in enumerate(path.read_text().splitlines(), 1)]
        numbered = [(n, r) for n, r in numbered if r and not r[0].startswith("#")]  # blank lines and comments
        bad = next((n for n, r in numbered if len(r) != 4), None)
        if bad is not None:
            raise InvalidInputError(f"{path}:{bad}: a score line has 4 columns: claimed_id real_id probe_id score")
        rows = [r for _, r in numbered]
        try:
            scores = np.array([float(r[3]) for r in rows], np.float64)
        except ValueError as exc:
            raise InvalidInputError(f"{path}: {exc}") from None
        cols = [np.array([r[k] for r in rows], dtype=object) for k in range(3)]
        return cls(*cols, scores)

    @classmethod
    def concat(cls, lists: list["ScoreList"]) -> "ScoreList":
        return cls(*(np.concatenate([getattr(s, f) for s in lists]) for f in ("claimed", "real", "probe", "scores")))
