"""The enrolled templates of one model in a nearest-neighbour index (lipauth.scoring.nearest),
built from the decrypted templates once (at service start) and kept in step with the store
through its change log: before each search, the users enrolled, replaced or deleted since —
by this process or any other — are read again. The templates stay encrypted at rest; the
index lives in this process's memory only."""

from __future__ import annotations

import os
import threading

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
    def __init__(self, store: TemplateStore, model_ids: str | frozenset[str], *, workers: int | None = None, modalities: tuple[str, ...] = (), **index_options) -> None:
        """model_ids: the model's id, or every id its templates may carry (LipModel.ids).
        workers: processes that decrypt the templates at start (None: one per core, for a
        store of PARALLEL_FROM users or more; 1: this process alone). modalities: others
        than the lips to index too (the voice, the face), so that identify can shortlist by
        them. Their vectors sit outside the part of a payload the lips' index decrypts, and
        decrypting every template whole would double a large store's start-up (118 s
        instead of 48 at 10^6 users, docs/benchmarks.md), so they are indexed in a thread
        after start; until then nearest_by finds nobody (wait_for_modalities)."""
        self.store, self.model_ids = store, frozenset([model_ids]) if isinstance(model_ids, str) else frozenset(model_ids)
        self.index = NearestTemplates(**index_options)
        self.by_modality: dict[str, NearestTemplates] = {}  # filled once built (_build_modalities)
        self._lock = threading.RLock()  # one refresh at a time, and none while the modalities' indexes join
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
        self._modalities_built = threading.Event()
        if modalities:
            threading.Thread(target=self._build_modalities, args=(modalities, index_options), name="lipauth-index-modalities", daemon=True).start()
        else:
            self._modalities_built.set()

    def wait_for_modalities(self, timeout: float | None = None) -> bool:
        """Wait until the other modalities' indexes are built; whether they are."""
        return self._modalities_built.wait(timeout)

    def _build_modalities(self, modalities: tuple[str, ...], index_options: dict) -> None:
        """Index the other modalities' template vectors, decrypting every template whole;
        the changes made meanwhile are applied before the indexes join."""
        try:
            seq = self.store.change_seq()
            found: dict[str, tuple[list, list]] = {m: ([], []) for m in modalities}
            for batch in self.store.iter_templates():
                for t in (t for t in batch if t.model_id in self.model_ids):
                    for name, (names, vectors_of) in found.items():
                        v = t.modality_vector(name)
                        if v is not None:
                            names.append(t.user_id)
                            vectors_of.append(v)
            built = {m: NearestTemplates(**index_options) for m in modalities}
            for name, (names, vectors_of) in found.items():
                if names:
                    built[name].upsert_many(names, np.stack(vectors_of), [None] * len(names))
            with self._lock:
                _, changed, gone = self.store.changes_since(seq)
                if gone:  # a user deleted while this ran: the log names them by digest only
                    digests = {self.store.user_digest(u): u for u in {u for index in built.values() for u in index.own}}
                    for user in filter(None, map(digests.get, gone)):
                        for index in built.values():
                            index.remove(user)
                for user in changed:
                    try:
                        t = self.store.get(user)
                    except UnknownUserError:
                        t = None
                    _index_modalities(built, user, t if t is not None and t.model_id in self.model_ids else None)
                self.by_modality = built
        finally:
            self._modalities_built.set()

    def refresh(self) -> int:
        """Apply the store's changes since the last refresh; how many users they touched."""
        with self._lock:
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
                if t.model_id in self.model_ids:
                    self.index.upsert(user, template_vector(t.embeddings), self_similarity(t.embeddings))
                    _index_modalities(self.by_modality, user, t)
                    self._by_digest[self.store.user_digest(user)] = user
                else:
                    self._remove(user)  # enrolled again with another model: not comparable
            return len(changed) + len(gone)

    def _remove(self, user: str) -> None:
        for index in (self.index, *self.by_modality.values()):
            index.remove(user)

    def nearest(self, probe: np.ndarray, k: int) -> list[tuple[str, float, float | None]]:
        """Up to k (user, cosine, template self-similarity), nearest first."""
        self.refresh()
        return [(u, c, self.index.own.get(u)) for u, c in self.index.search(probe, k)]

    def nearest_by(self, modality: str, vector: np.ndarray, k: int, *, refresh: bool = True) -> list[tuple[str, float]]:
        """Up to k (user, cosine) nearest by another modality's vector, nearest first; [] for
        a modality not indexed, or not yet (wait_for_modalities). refresh=False: the caller
        has just refreshed (nearest), so the change log is not read again."""
        if refresh:
            self.refresh()
        index = self.by_modality.get(modality)
        return [] if index is None else index.search(vector, k)


def _index_modalities(indexes: dict[str, NearestTemplates], user: str, t) -> None:
    """The user's template vector in each modality's index; out of it where the template
    (None: deleted, or another model's) has none."""
    for name, index in indexes.items():
        v = None if t is None else t.modality_vector(name)
        if v is None:
            index.remove(user)
        else:
            index.upsert(user, v)
