"""Nearest templates for identification (1:N): the users whose template vectors lie nearest a
probe by cosine. Exact (a matrix product) while the users are few; past `exact_below`, an
approximate HNSW graph (FAISS, Malkov & Yashunin 2018) whose search cost grows with log N.

Users come and go (`upsert`, `remove`). An HNSW graph cannot drop a node, so a removed or
replaced user's old node is only marked dead and skipped in results; the graph is rebuilt
once the dead pass a tenth of it. The index holds, per user, the template vector and the
template's self-similarity (what a normalised decision threshold needs), never the
enrolment embeddings themselves.
"""

from __future__ import annotations

import numpy as np

from lipauth.errors import InvalidInputError


class NearestTemplates:
    def __init__(self, dim: int | None = None, *, exact_below: int = 50_000, hnsw_m: int = 32, ef_construction: int = 80, ef_search: int = 128) -> None:
        self.dim = dim
        self.exact_below = exact_below
        self.hnsw_m, self.ef_construction, self.ef_search = hnsw_m, ef_construction, ef_search
        self._vectors = np.zeros((0, dim or 0), np.float32)  # one row per slot, live or dead
        self._owner: list[str | None] = []  # slot -> user (None: dead)
        self._slot: dict[str, int] = {}  # user -> live slot
        self.own: dict[str, float | None] = {}  # user -> template self-similarity
        self._graph = None  # a FAISS index over the slots, once the users are many
        self._dead = 0

    def __len__(self) -> int:
        return len(self._slot)

    @property
    def approximate(self) -> bool:
        return self._graph is not None

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
        self._vectors = np.concatenate([self._vectors, vectors]) if len(self._vectors) else vectors.copy()
        self._owner += list(user_ids)
        for i, (u, own) in enumerate(zip(user_ids, owns)):
            self._slot[u] = start + i
            self.own[u] = own
        if self._graph is not None:
            self._graph.add(vectors)
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
        if self._graph is None:
            scores = self._vectors @ q[0]
            live = np.array([o is not None for o in self._owner])
            scores = np.where(live, scores, -np.inf)
            top = np.argsort(-scores, kind="stable")[: min(k, len(self._slot))]
            return [(self._owner[i], float(scores[i])) for i in top]
        want = min(len(self._owner), k + self._dead)  # dead slots can take places in the results
        self._graph.hnsw.efSearch = max(self.ef_search, want)
        scores, slots = self._graph.search(q, want)
        found = [(self._owner[s], float(c)) for s, c in zip(slots[0], scores[0]) if s >= 0 and self._owner[s] is not None]
        return found[:k]

    def memory_bytes(self) -> int:
        graph = 0 if self._graph is None else len(self._owner) * self.hnsw_m * 2 * 4 + self._vectors.nbytes  # links + its own copy
        return self._vectors.nbytes + graph

    # -- upkeep -------------------------------------------------------------------------------
    def _kill(self, user_id: str) -> None:
        slot = self._slot.pop(user_id, None)
        if slot is not None:
            self._owner[slot] = None
            self._dead += 1

    def _maintain(self) -> None:
        """Exact below `exact_below` users, a graph above; compact once a tenth is dead."""
        live = len(self._slot)
        if self._dead and (self._dead > 0.1 * len(self._owner) or live < self.exact_below):
            keep = [i for i, o in enumerate(self._owner) if o is not None]
            self._vectors = self._vectors[keep]
            self._owner = [self._owner[i] for i in keep]
            self._slot = {u: i for i, u in enumerate(self._owner)}
            self._dead = 0
            self._graph = None
        if live >= self.exact_below and self._graph is None:
            self._graph = self._build()

    def _build(self):
        import faiss

        graph = faiss.IndexHNSWFlat(self.dim, self.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        graph.hnsw.efConstruction = self.ef_construction
        graph.add(self._vectors)
        return graph
