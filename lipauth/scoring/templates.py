"""Template arithmetic: the vector a user's enrolment clips stand for, and how alike those
clips are to each other (where this user's genuine scores lie, with this camera)."""

from __future__ import annotations

import numpy as np


def template_vector(embeddings: np.ndarray) -> np.ndarray:
    """Mean of the L2-normalised embeddings, normalised again."""
    m = np.asarray(embeddings).mean(axis=0)
    return m / max(float(np.linalg.norm(m)), 1e-12)


def self_similarity(embeddings: np.ndarray) -> float | None:
    """Mean leave-one-out score of each enrolment clip against the mean of the others; None
    with one clip."""
    e = np.asarray(embeddings)
    if len(e) < 2:
        return None
    total = e.sum(axis=0)
    scores = [float(e[i] @ (total - e[i]) / max(float(np.linalg.norm(total - e[i])), 1e-12)) for i in range(len(e))]
    return float(np.mean(scores))


def template_vectors(templates: list[np.ndarray]) -> tuple[np.ndarray, list[float | None]]:
    """template_vector and self_similarity of many templates at once ((n_i, D) each), in
    NumPy over the templates of each size (an index of 10^6 users is built in seconds)."""
    if not templates:
        return np.zeros((0, 0), np.float32), []
    vectors = np.zeros((len(templates), templates[0].shape[1]), np.float32)
    owns: list[float | None] = [None] * len(templates)
    by_size: dict[int, list[int]] = {}
    for i, e in enumerate(templates):
        by_size.setdefault(len(e), []).append(i)
    for n, idx in by_size.items():
        e = np.stack([templates[i] for i in idx])  # (m, n, D) float32
        total = e.sum(axis=1)
        vectors[idx] = total / np.maximum(np.sqrt(np.einsum("md,md->m", total, total)), 1e-12)[:, None]
        if n >= 2:
            rest = total[:, None, :] - e  # each clip's others
            loo = np.einsum("mnd,mnd->mn", e, rest) / np.maximum(np.sqrt(np.einsum("mnd,mnd->mn", rest, rest)), 1e-12)
            for i, own in zip(idx, loo.mean(axis=1).tolist()):
                owns[i] = own
    return vectors, owns
