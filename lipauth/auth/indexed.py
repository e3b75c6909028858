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


def _index_part(store: TemplateStore, model_ids: frozenset[str], first: str | None = None, before: str | None = None):
    """(users, lip template vectors, self-similarities, other modality -> (its users, their
    template vectors)) of the store's templates of these models (with user ids in [first,
    before) where given)."""
    users, vectors, owns, others = [], [], [], {}
    for batch in store.iter_index(first=first, before=before):
        mine = [(u, e, means) for u, model_id, e, means in batch if model_id in model_ids]
        v, o = template_vectors([e for _, e, _ in mine])
        users += [u for u, _, _ in mine]
        vectors.append(v)
        owns += o
        for u, _, means in mine:
            for m, vec in means.items():
                others.setdefault(m, ([], []))
                others[m][0].append(u)
                others[m][1].append(vec)
    dims = [v for v in vectors if len(v)]
    return users, (np.concatenate(dims) if dims else np.zeros((0, 0), np.float32)), owns, others


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
        # other modalities' template vectors, each in its own index: identify's shortlists where
        # the lips alone would miss people (they do not hold across recordings)
        self.by_modality: dict[str, NearestTemplates] = {}
        self._options = index_options
        self._by_digest: dict[str, str] = {}  # how the change log names each indexed user once deleted
        self.seq = store.change_seq()  # read first: a change made while loading is applied again
        n = store.count()
        parts = max(1, min(workers if workers is not None else (os.cpu_count() or 1) if n >= PARALLEL_FROM else 1, n))
        if parts == 1:
            users, vectors, owns, others = _index_part(store, self.model_ids)
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
            others = {}
            for d in done:
                for m, (us, vs) in d[3].items():
                    others.setdefault(m, ([], []))
                    others[m][0].extend(us)
                    others[m][1].extend(vs)
        for m, (us, vs) in others.items():
            self._modality(m).upsert_many(us, np.stack(vs), [None] * len(us))
        if users:
            self.index.upsert_many(users, vectors, owns)
            self._by_digest = {store.user_digest(u): u for u in users}

    def refresh(self) -> int:
        """Apply the store's changes since the last refresh; how many users they touched."""
        self.seq, changed, gone = self.store.changes_since(self.seq)
        for digest in gone:
            user = self._by_digest.pop(digest, None)
            if user is not None:
                self._remove(user)
        for user in changed:
            try:
                t = self.store.get(user)
            except UnknownUserError:  # deleted since: its digest came above, or comes next time
                self._remove(user)
                continue
            self._remove(user)  # its modalities may have changed
            if t.model_id in self.model_ids:
                self.index.upsert(user, template_vector(t.embeddings), self_similarity(t.embeddings))
                for m in t.modalities:
                    if (v := t.modality_vector(m)) is not None:
                        self._modality(m).upsert(user, v)
                self._by_digest[self.store.user_digest(user)] = user
        return len(changed) + len(gone)

    def _modality(self, name: str) -> NearestTemplates:
        if name not in self.by_modality:
            self.by_modality[name] = NearestTemplates(**self._options)
        return self.by_modality[name]

    def _remove(self, user: str) -> None:
        for index in (self.index, *self.by_modality.values()):
            if user in index.own:
                index.remove(user)

    def nearest_by(self, modality: str, vector: np.ndarray, k: int) -> list[str]:
        """Up to k users whose template of `modality` (voice, face) lies nearest `vector`."""
        self.refresh()
        index = self.by_modality.get(modality)
        return [u for u, _ in index.search(vector, k)] if index is not None and len(index) else []

    def nearest(self, probe: np.ndarray, k: int) -> list[tuple[str, float, float | None]]:
        """Up to k (user, cosine, template self-similarity), nearest first."""
        self.refresh()
        return [(u, c, self.index.own.get(u)) for u, c in self.index.search(probe, k)]
