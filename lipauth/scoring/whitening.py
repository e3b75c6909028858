"""Scoring backend: mean removal and PCA whitening of embeddings, fitted on the training
speakers, then length normalisation (as in x-vector speaker verification, Garcia-Romero &
Espy-Wilson 2011).

Why: trained on a handful of speakers, a network's embedding spends its variance on what
separates those speakers; whitening re-weights every direction the training data varies
in, so differences between unseen speakers count too. On AVLetters 3-fold cross-validation
it took WhisperNet v2 from ~17 % to ~3-4 % text-independent EER (docs/results.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lipauth.errors import InvalidInputError


@dataclass
class Whitening:
    mean: np.ndarray  # (D,)
    projection: np.ndarray  # (D, k): principal axes scaled by 1/sqrt(variance)

    @classmethod
    def fit(cls, embeddings: np.ndarray, n_components: int = 64, eps: float = 1e-6) -> "Whitening":
        x = np.asarray(embeddings, np.float64)
        if x.ndim != 2 or len(x) < 3:
            raise InvalidInputError(f"whitening needs at least 3 embeddings, got shape {x.shape}")
        mean = x.mean(axis=0)
        _, s, vt = np.linalg.svd(x - mean, full_matrices=False)
        var = s**2 / (len(x) - 1)
        k = int(min(n_components, np.sum(var > eps * var[0])))
        projection = vt[:k].T / np.sqrt(var[:k] + eps)
        return cls(mean=mean.astype(np.float32), projection=projection.astype(np.float32))

    def transform(self, embeddings: np.ndarray) -> np.ndarray:
        z = (np.asarray(embeddings, np.float32) - self.mean) @ self.projection
        return z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)

    def to_dict(self) -> dict:
        return {"type": "whitening", "mean": self.mean.tolist(), "projection": self.projection.tolist()}

    @classmethod
    def from_dict(cls, d: dict | None) -> "Whitening | MemberWhitening | None":
        if not d:
            return None
        if d.get("type") == "member_whitening":
            return MemberWhitening.from_dict(d)
        if d.get("type") != "whitening":
            raise InvalidInputError(f"unknown scoring backend {d.get('type')!r}")
        return cls(mean=np.asarray(d["mean"], np.float32), projection=np.asarray(d["projection"], np.float32))


@dataclass
class MemberWhitening:
    """The backend of an ensemble (lipauth.models.ensemble): each member's slice of the
    embedding through its own whitening (or only length-normalised, where a member has
    none), then all divided by sqrt(M), so that a cosine is the mean of the members'."""

    parts: list[Whitening | None]
    dims: list[int]  # each member's embedding size, in order

    def transform(self, embeddings: np.ndarray) -> np.ndarray:
        x = np.asarray(embeddings, np.float32)
        if x.ndim != 2 or x.shape[1] != sum(self.dims):
            raise InvalidInputError(f"ensemble embeddings must be (N, {sum(self.dims)}), got {x.shape}")
        out, start = [], 0
        for part, d in zip(self.parts, self.dims):
            z = x[:, start : start + d]
            start += d
            z = part.transform(z) if part is not None else z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)
            out.append(z)
        return np.concatenate(out, axis=1) / np.sqrt(len(self.parts))

    def to_dict(self) -> dict:
        return {"type": "member_whitening", "dims": list(self.dims), "parts": [p.to_dict() if p is not None else None for p in self.parts]}

    @classmethod
    def from_dict(cls, d: dict) -> "MemberWhitening":
        return cls(parts=[Whitening.from_dict(p) for p in d["parts"]], dims=[int(x) for x in d["dims"]])
