"""What goes into a training batch: PK batches for online mining, and the papers' offline
"challenging" triplets."""

from __future__ import annotations

from collections import defaultdict
from typing import Iterator

import numpy as np

from lipauth.clip import ClipMeta
from lipauth.errors import InvalidInputError


class PKSampler:
    """Batches of P labels x K clips each (drawn with replacement where a label has < K).

    One epoch has len(labels) // (P*K) batches. With `rank`/`world` each process draws its
    own batches from its own seed, so DDP workers see different data.
    """

    def __init__(self, labels, p: int, k: int, seed: int, rank: int = 0, world: int = 1) -> None:
        self.by_label: dict = defaultdict(list)
        for i, lab in enumerate(labels):
            self.by_label[lab].append(i)
        if len(self.by_label) < 2:
            raise InvalidInputError(f"PK sampling needs at least 2 labels, got {len(self.by_label)}")
        self.p, self.k = min(p, len(self.by_label)), k
        self.n_batches = max(1, len(labels) // (self.p * self.k) // world)
        self.rng = np.random.default_rng([seed, rank])
        self.labels = sorted(self.by_label, key=str)

    def __len__(self) -> int:
        return self.n_batches

    def __iter__(self) -> Iterator[list[int]]:
        for _ in range(self.n_batches):
            batch = []
            for lab in self.rng.choice(len(self.labels), size=self.p, replace=False):
                pool = self.by_label[self.labels[lab]]
                batch += self.rng.choice(pool, size=self.k, replace=len(pool) < self.k).tolist()
            yield batch


def challenging_triplets(metas: list[ClipMeta], n: int, *, text_dependent: bool, seed: int) -> np.ndarray:
    """(n, 3) anchor/positive/negative indices, hard by construction (WhisperNet v2):

    positive: same speaker, different emotion/intensity/repetition, same phrase where possible
    negative: a different speaker saying the same phrase; in text-dependent mode, half the
              time the same speaker saying another phrase instead
    """
    rng = np.random.default_rng(seed)
    spk = np.array([m.speaker for m in metas], dtype=object)
    phr = np.array([m.phrase for m in metas], dtype=object)
    style = [(m.emotion, m.intensity, m.repetition) for m in metas]
    out = []
    attempts = 0
    while len(out) < n and attempts < 20 * n:
        attempts += 1
        a = int(rng.integers(len(metas)))
        same_spk = spk == spk[a]
        other_style = np.array([st != style[a] for st in style])
        pos = np.flatnonzero(same_spk & (phr == phr[a]) & other_style)
        if len(pos) == 0:
            pos = np.flatnonzero(same_spk & (np.arange(len(metas)) != a))
        if text_dependent and rng.random() < 0.5:
            neg = np.flatnonzero(same_spk & (phr != phr[a]))
        else:
            neg = np.flatnonzero(~same_spk & (phr == phr[a]))
            if len(neg) == 0:
                neg = np.flatnonzero(~same_spk)
        if len(pos) and len(neg):
            out.append((a, int(rng.choice(pos)), int(rng.choice(neg))))
    if len(out) < n:
        raise InvalidInputError(f"could only build {len(out)} of {n} triplets: the corpus needs 2+ speakers with 2+ clips each")
    return np.array(out)
