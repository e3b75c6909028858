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
