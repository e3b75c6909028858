"""The enrolled templates of one model in a nearest-neighbour index (lipauth.scoring.nearest),
built from the decrypted templates once (at service start) and kept in step with the store
through its change log: before each search, the users enrolled, replaced or deleted since —
by this process or any other — are read again. The templates stay encrypted at rest; the
index lives in this process's memory only."""

from __future__ import annotations

import os

import numpy as np

from lipauth.auth.store import TemplateStore
from lipauth.errors import UnknownUserError
from lipauth.scoring.nearest import NearestTemplates
from lipauth.scoring.templates import self_similarity, template_vector, template_vectors


PARALLEL_FROM = 200_000  # users: below this, starting processes costs more than it saves


def _index_part(store: TemplateStore, model_ids: frozenset[str], first: str | None = None, before: str | None = None) -> tuple[list[str], np.ndarray, list[float | None]]:
    """(users, template vectors, self-similarities) of the store's templates of these models
    (with user ids in [first, before) where given)."""
    users, vectors, owns = [], [], []
    for batch in store.iter_index(first=first, before=before):
        mine = [(u, e) for u, model_id, e in batch if model_id in model_ids]
        v, o = template_vectors([e for _, e in mine])
        users += [u for u, _ in mine]
        vectors.append(v)
        owns += o
    dims = [v for v in vectors if len(v)]
    return users, (np.concatenate(dims) if dims else np.zeros((0, 0), np.float32)), owns


def _index_part_in_process(job) -> tuple[list[str], np.ndarray, list[float | None]]:
    location, key_file, model_ids, first, before = job
    store = TemplateStore(location, key_file=key_file)
    try:
        return _index_part(store, model_ids, first, before)
    finally:
        store.close()


class IndexedTemplates:
    def __init__(self, store: TemplateStore, model_ids: str | frozenset[str], *, workers: int | None = None, **index_options) -> None:
        """model_ids: the model's id, or every id its templates may carry (LipModel.ids).
        workers: processes that decrypt the templates at start (None: one per core, for a
        store of PARALLEL_FROM users or more; 1: this process alone)."""
        self.store, self.model_ids = store, frozenset([model_ids]) if isinstance(model_ids, str) else frozenset(model_ids)
        self.index = NearestTemplates(**index_options)
        self._by_digest: dict[str, str] = {}  # how the change log names each indexed user once deleted
        self.seq = store.change_seq()  # read first: a change made while loading is applied again
        n = store.count()
        parts = max(1, min(workers if workers is not None else (os.cpu_count() or 1) if n >= PARALLEL_FROM else 1, n))
        if parts == 1:
            users, vectors, owns = _index_part(store, self.model_ids)
        else:  # the store split by user id between processes: decryption is most of the time
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            bounds = [None, *(store.user_id_at(n * i // parts) for i in range(1, parts)), None]
            jobs = [(store.location, str(store.key_path), self.model_ids, lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:])]
            with ProcessPoolExecutor(parts, mp_context=multiprocessing.get_context("spawn")) as pool:
                done = list(pool.map(_index_part_in_process, jobs))
            users = [u for d in done for u in d[0]]
            vectors = np.concatenate([d[1] for d in done if d[0]]) if users else np.zeros((0, 0), np.float32)
            owns = [o for d in done for o in d[2]]
        if users:
            self.index.upsert_many(users, vectors, owns)
            self._by_digest = {store.user_digest(u): u for u in users}

    def refresh(self) -> int:
        """Apply the store's changes since the last refresh; how many users they touched."""
        self.seq, changed, gone = self.store.changes_since(self.seq)
        for digest in gone:
            user = self._by_digest.pop(digest, None)
            if user is not None:
                self.index.remove(user)
        for user in changed:
            try:
                t = self.store.get(user)
            except UnknownUserError:  # deleted since: its digest came above, or comes next time
                self.index.remove(user)
                continue
            if t.model_id in self.model_ids:
                self.index.upsert(user, template_vector(t.embeddings), self_similarity(t.embeddings))
                self._by_digest[self.store.user_digest(user)] = user
            else:
                self.index.remove(user)  # enrolled again with another model: not comparable
        return len(changed) + len(gone)

    def nearest(self, probe: np.ndarray, k: int) -> list[tuple[str, float, float | None]]:
        """Up to k (user, cosine, template self-similarity), nearest first."""
        self.refresh()
        return [(u, c, self.index.own.get(u)) for u, c in self.index.search(probe, k)]
