"""A person's enrolment template: several clips' embeddings and their mean."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np

from lipauth.errors import InvalidInputError
from lipauth.scoring.templates import self_similarity, template_vector


@dataclass(frozen=True)
class Template:
    user_id: str
    embeddings: np.ndarray  # (n, D) L2-normalised, one per enrolment clip
    model_id: str  # which model made them: templates only compare with that model's probes
    passphrase: str | None = None  # for text-dependent use
    created_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    face_refs: np.ndarray | None = None  # face-liveness embeddings of the enrolment clips' real face crops
    face_refs_model: str | None = None  # the liveness model that made them

    @property
    def mean(self) -> np.ndarray:
        """The template vector (lipauth.scoring.templates)."""
        return template_vector(self.embeddings)

    @property
    def self_similarity(self) -> float | None:
        """Where this user's genuine scores lie, with this camera; None with one clip."""
        return self_similarity(self.embeddings)

    @classmethod
    def from_embeddings(
        cls, user_id: str, embeddings: np.ndarray, model_id: str, passphrase: str | None = None, face_refs: np.ndarray | None = None, face_refs_model: str | None = None
    ) -> "Template":
        emb = np.asarray(embeddings, np.float32)
        if emb.ndim != 2 or len(emb) == 0:
            raise InvalidInputError(f"enrolment needs at least one embedding, got shape {emb.shape}")
        refs = None if face_refs is None else np.asarray(face_refs, np.float32)
        return cls(user_id=user_id, embeddings=emb, model_id=model_id, passphrase=passphrase, face_refs=refs, face_refs_model=face_refs_model if refs is not None else None)

    def to_bytes(self) -> bytes:
        d = {"embeddings": self.embeddings.tolist(), "model_id": self.model_id, "passphrase": self.passphrase, "created_at": self.created_at}
        if self.face_refs is not None:
            d["face_refs"], d["face_refs_model"] = self.face_refs.tolist(), self.face_refs_model
        return json.dumps(d).encode()

    @classmethod
    def from_bytes(cls, user_id: str, data: bytes) -> "Template":
        d = json.loads(data)
        refs = d.get("face_refs")  # absent in templates enrolled before face liveness existed
        return cls(
            user_id=user_id, embeddings=np.asarray(d["embeddings"], np.float32), model_id=d["model_id"], passphrase=d.get("passphrase"), created_at=d["created_at"],
            face_refs=None if refs is None else np.asarray(refs, np.float32), face_refs_model=d.get("face_refs_model"),
        )
