"""Nearest templates for identification (1:N): the users whose template vectors lie nearest a
probe by cosine. Exact (a matrix product) while the users are few; past `exact_below`, an
inverted file (FAISS IndexIVFFlat: the templates grouped around k-means centroids, a probe
compared with the groups of its `probe_share` nearest centroids, exactly within them).

Chosen over a graph (HNSW, also in FAISS) by measurement (benchmarks/identify_scale.py, docs/
benchmarks.md): on 10^6 templates the graph took 11 min to build on 2 cores and found exact
search's nearest user for 79 % of returning users at 1.3 ms, where the inverted file built in
65 s, can drop a user outright, and found it for all 300 returning users at 9.3 ms (p50).

Users come and go (`upsert`, `remove`): removed from the inverted file at once; the centroids
are learnt again when the users have doubled or halved since they were. The index holds, per
user, the template vector and the template's self-similarity (what a normalised decision
threshold needs), never the enrolment embeddings themselves.
"""

from __future__ import annotations

import numpy as np

from lipauth.errors import InvalidInputError


class NearestTemplates:
    def __init__(self, dim: int | None = None, *, exact_below: int = 50_000, probe_share: float = 1 / 8, seed: int = 0) -> None:
        self.dim = dim
        self.exact_below = exact_below
        self.probe_share = probe_share  # of the groups searched: recall against speed
        self.seed = seed
        self._vectors = np.zeros((0, dim or 0), np.float32)  # one row per slot, live or dead
        self._owner: list[str | None] = []  # slot -> user (None: removed)
        self._live = np.zeros(0, bool)  # slot -> still someone's (the exact search's mask)
        self._slot: dict[str, int] = {}  # user -> live slot
        self.own: dict[str, float | None] = {}  # user -> template self-similarity
        self._ivf = None  # FAISS IndexIVFFlat over the live slots, once the users are many
        self._trained_for = 0  # live users when the centroids were learnt

    def __len__(self) -> int:
        return len(self._slot)

    @property
    def approximate(self) -> bool:
        return self._ivf is not None

    def upsert(self, user_id: str, vector: np.ndarray, own: float | None = None) -> None:
        self.upsert_many([user_id], np.asarray(vector, np.float32)[None, :], [own])

    def upsert_many(self, user_ids: list[str], vectors: np.ndarray, owns: list[float | None]) -> None:
        vectors = np.ascontiguousarray(vectors, np.float32)
        if self.dim is None and vectors.ndim == 2:  # the first templates say the model's size
            self.dim = vectors.shape[1]
            self._vectors = np.zeros((0, self.dim), np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim or not len(vectors) == len(user_ids) == len(owns):
            raise InvalidInputError(f"template vectors must be ({len(user_ids)}, {self.dim}), got {vectors.shape}")
        for u in user_ids:
            self._kill(u)
        start = len(self._owner)
        self._vectors = np.concatenate([self._vectors, vectors])
        self._owner += list(user_ids)
        self._live = np.concatenate([self._live, np.ones(len(user_ids), bool)])
        for i, (u, own) in enumerate(zip(user_ids, owns)):
            self._slot[u] = start + i
            self.own[u] = own
        if self._ivf is not None:
            self._ivf.add_with_ids(vectors, np.arange(start, start + len(vectors), dtype=np.int64))
        self._maintain()

    def remove(self, user_id: str) -> None:
        self._kill(user_id)
        self.own.pop(user_id, None)
        self._maintain()

    def search(self, probe: np.ndarray, k: int) -> list[tuple[str, float]]:
        """Up to k (user, cosine) pairs, nearest first."""
        if not self._slot or k < 1:
            return []
        q = np.ascontiguousarray(np.asarray(probe, np.float32).reshape(1, -1))
        if self._ivf is None:
            scores = self._vectors @ q[0]
            scores = np.where(self._live, scores, -np.inf)
            top = np.argsort(-scores, kind="stable")[: min(k, len(self._slot))]
            return [(self._owner[i], float(scores[i])) for i in top]
        scores, slots = self._ivf.search(q, k)
        return [(self._owner[s], float(c)) for s, c in zip(slots[0], scores[0]) if s >= 0 and self._owner[s] is not None]

    def memory_bytes(self) -> int:
        """The vectors, and the inverted file's own copy with its ids and centroids."""
        ivf = 0 if self._ivf is None else len(self._slot) * (4 * self.dim + 8) + self._ivf.nlist * 4 * self.dim
        return self._vectors.nbytes + ivf

    # -- upkeep -------------------------------------------------------------------------------
    def _kill(self, user_id: str) -> None:
        slot = self._slot.pop(user_id, None)
        if slot is not None:
            self._owner[slot] = None
            self._live[slot] = False
            if self._ivf is not None:
                self._ivf.remove_ids(np.array([slot], np.int64))

    def _maintain(self) -> None:
        """Exact below `exact_below` users, the inverted file above; removed slots are let go
        of once they are a tenth, and the centroids learnt again when the users have doubled
        or halved since."""
        live, dead = len(self._slot), len(self._owner) - len(self._slot)
        if dead and dead > 0.1 * len(self._owner):
            keep = [i for i, o in enumerate(self._owner) if o is not None]
            self._vectors = self._vectors[keep]
            self._owner = [self._owner[i] for i in keep]
            self._live = np.ones(len(keep), bool)
            self._slot = {u: i for i, u in enumerate(self._owner)}
            self._ivf = None  # its ids were the old slots
        if live < self.exact_below:
            self._ivf = None
        elif self._ivf is None or not 0.5 <= live / self._trained_for <= 2:
            self._ivf = self._build()

    def _build(self):
        import faiss

        live = np.array([i for i, o in enumerate(self._owner) if o is not None], np.int64)
        nlist = int(np.clip(2 * np.sqrt(len(live)), 16, 65536))
        ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(self.dim), self.dim, nlist, faiss.METRIC_INNER_PRODUCT)
        sample = np.random.default_rng(self.seed).choice(live, min(len(live), 64 * nlist), replace=False)
        ivf.train(self._vectors[np.sort(sample)])
        ivf.add_with_ids(self._vectors[live], live)
        ivf.nprobe = max(1, int(round(self.probe_share * nlist)))
        self._trained_for = len(live)
        return ivf
