"""Open-set protocol: speaker-disjoint splits, k-fold by speaker, and trial lists.

Trials (after WhisperNet), over unordered pairs of clips of the evaluated speakers:
  text-independent  genuine = same speaker;                 impostor = different speaker
  text-dependent    both clips say the same phrase; genuine = same speaker, impostor = other
  wrong-phrase      genuine = same speaker, same phrase;   "impostor" = same speaker, other
                    phrase (a replayed recording of the wrong passphrase must be rejected)
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np

from lipauth.clip import ClipMeta
from lipauth.errors import InvalidInputError

TRIAL_KINDS = ("text_independent", "text_dependent", "wrong_phrase")


@dataclass(frozen=True)
class Split:
    train: tuple[str, ...]
    val: tuple[str, ...]
    test: tuple[str, ...]

    def __post_init__(self) -> None:
        sets = [set(self.train), set(self.val), set(self.test)]
        if sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2]:
            raise InvalidInputError("train, validation and test speakers must be disjoint")

    def to_dict(self) -> dict[str, list[str]]:
        return {"train": list(self.train), "val": list(self.val), "test": list(self.test)}


def split_speakers(speakers, *, n_val: int, n_test: int, seed: int, n_train: int | None = None) -> Split:
    """Random speaker-disjoint split: n_test and n_val speakers held out, the rest (or the
    first n_train of the rest) train. CREMA-D's paper protocol is 66/11/11 of its 91 actors."""
    pool = sorted(set(speakers))
    need = n_val + n_test + (n_train or 1)
    if need > len(pool):
        raise InvalidInputError(f"{len(pool)} speakers cannot give {n_train or 'some'} training + {n_val} validation + {n_test} test speakers")
    order = np.random.default_rng(seed).permutation(pool).tolist()
    rest = order[n_val + n_test :]
    train = rest[:n_train] if n_train else rest
    return Split(train=tuple(sorted(train)), val=tuple(sorted(order[:n_val])), test=tuple(sorted(order[n_val : n_val + n_test])))


def leave_out_speakers(speakers, *, p: int = 2, seed: int = 0, n_val: int = 0) -> list[Split]:
    """Every group of `p` speakers tested once, trained on the rest (leave-p-speakers-out).
    With few speakers the k-fold EER depends on which speakers happen to share a test fold
    (docs/results.md); testing every pair removes that luck, at C(n, p) trainings."""
    pool = sorted(set(speakers))
    if not 2 <= p <= len(pool) - 1 - n_val:
        raise InvalidInputError(f"leave-p-out needs 2 <= p <= {len(pool) - 1 - n_val} for {len(pool)} speakers and {n_val} validation speakers")
    splits = []
    for test in combinations(pool, p):
        rest = np.random.default_rng(seed).permutation([s for s in pool if s not in test]).tolist()
        splits.append(Split(train=tuple(sorted(rest[n_val:])), val=tuple(sorted(rest[:n_val])), test=test))
    return splits


def kfold_speakers(speakers, *, k: int, seed: int, n_val: int = 0) -> list[Split]:
    """k folds that partition the speakers: each is tested once and never trained on in its
    fold; `n_val` of each fold's remaining speakers validate."""
    pool = sorted(set(speakers))
    if not 2 <= k <= len(pool) // 2:
        raise InvalidInputError(f"k-fold by speaker needs 2 <= k <= {len(pool) // 2} for {len(pool)} speakers (a test fold needs 2 speakers for impostor trials)")
    order = np.random.default_rng(seed).permutation(pool).tolist()
    folds = [order[i::k] for i in range(k)]
    splits = []
    for i, test in enumerate(folds):
        rest = [s for s in order if s not in test]
        if n_val >= len(rest):
            raise InvalidInputError(f"fold {i}: {n_val} validation speakers leave none to train on")
        splits.append(Split(train=tuple(sorted(rest[n_val:])), val=tuple(sorted(rest[:n_val])), test=tuple(sorted(test))))
    return splits


@dataclass(frozen=True)
class Trials:
    kind: str
    a: np.ndarray  # index of the enrolment clip
    b: np.ndarray  # index of the probe clip
    genuine: np.ndarray  # bool

    def __len__(self) -> int:
        return len(self.a)

    @property
    def n_genuine(self) -> int:
        return int(self.genuine.sum())

    @property
    def n_impostor(self) -> int:
        return int((~self.genuine).sum())

    def scores(self, embeddings: np.ndarray) -> np.ndarray:
        """Cosine score of every trial, from L2-normalised embeddings indexed like the clips."""
        return np.sum(embeddings[self.a] * embeddings[self.b], axis=1)


def make_trials(metas: list[ClipMeta], kind: str, *, max_impostors: int | None = None, seed: int = 0) -> Trials:
    """All pairs of the given kind; impostor pairs are subsampled to `max_impostors` if set."""
    if kind not in TRIAL_KINDS:
        raise InvalidInputError(f"unknown trial kind {kind!r}; choose one of {', '.join(TRIAL_KINDS)}")
    speakers = np.array([m.speaker for m in metas], dtype=object)
    phrases = np.array([m.phrase for m in metas], dtype=object)
    a, b = np.triu_indices(len(metas), k=1)
    same_spk = speakers[a] == speakers[b]
    same_phr = phrases[a] == phrases[b]
    if kind == "text_independent":
        keep, genuine = np.ones_like(same_spk), same_spk
    elif kind == "text_dependent":
        keep, genuine = same_phr, same_spk
    else:  # wrong_phrase
        keep, genuine = same_spk, same_phr
    a, b, genuine = a[keep], b[keep], genuine[keep]
    if max_impostors is not None and (~genuine).sum() > max_impostors:
        rng = np.random.default_rng(seed)
        imp = np.flatnonzero(~genuine)
        drop = rng.choice(imp, size=len(imp) - max_impostors, replace=False)
        mask = np.ones(len(a), bool)
        mask[drop] = False
        a, b, genuine = a[mask], b[mask], genuine[mask]
    return Trials(kind=kind, a=a, b=b, genuine=genuine.astype(bool))
