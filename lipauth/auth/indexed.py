"""The enrolled templates of one model in a nearest-neighbour index (lipauth.scoring.nearest),
built from the decrypted templates once (at service start) and kept in step with the store
through its change log: before each search, the users enrolled, replaced or deleted since —
by this process or any other — are read again. The templates stay encrypted at rest; the
index lives in this process's memory only."""

from __future__ import annotations

import numpy as np

from lipauth.auth.store import TemplateStore
from lipauth.errors import UnknownUserError
from lipauth.scoring.nearest import NearestTemplates
from lipauth.scoring.templates import self_similarity, template_vector, template_vectors


class IndexedTemplates:
    def __init__(self, store: TemplateStore, model_ids: str | frozenset[str], **index_options) -> None:
        """model_ids: the model's id, or every id its templates may carry (LipModel.ids)."""
        self.store, self.model_ids = store, frozenset([model_ids]) if isinstance(model_ids, str) else frozenset(model_ids)
        self.index = NearestTemplates(**index_options)
        self._by_digest: dict[str, str] = {}  # how the change log names each indexed user once deleted
        self.seq = store.change_seq()  # read first: a change made while loading is applied again
        users, vectors, owns = [], [], []
        for batch in store.iter_index():
            mine = [(u, e) for u, model_id, e in batch if model_id in self.model_ids]
            v, o = template_vectors([e for _, e in mine])
            users += [u for u, _ in mine]
            vectors.append(v)
            owns += o
        if users:
            self.index.upsert_many(users, np.concatenate([v for v in vectors if len(v)]), owns)
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
