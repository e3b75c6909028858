"""A person's enrolment template: several clips' embeddings, and the enrolment state of each
presentation-attack check (opaque here: each check reads only its own)."""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np

from lipauth.auth.passphrase import hash_passphrase, is_hashed
from lipauth.errors import InvalidInputError
from lipauth.scoring.templates import self_similarity, template_vector


MAGIC = b"LTB1"  # the binary payload's first bytes (a JSON payload starts with "{")


@dataclass(frozen=True)
class Template:
    user_id: str
    embeddings: np.ndarray  # (n, D) L2-normalised, one per enrolment clip
    model_id: str  # which model made them: templates only compare with that model's probes
    passphrase_hash: str | None = None  # a typed second factor, scrypt-hashed (lipauth.auth.passphrase)
    created_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    check_state: dict[str, Any] = field(default_factory=dict)  # check name -> its enrolment state (JSON-able)
    # other modalities' enrolment vectors (lipauth.encoders): "voice" -> (n, 256), "face" -> (n, 128),
    # from the enrolment clips where that modality could run
    modalities: dict[str, np.ndarray] = field(default_factory=dict)

    def modality_vector(self, name: str) -> np.ndarray | None:
        """The template vector of another modality; None where enrolment had none of it."""
        v = self.modalities.get(name)
        return None if v is None or not len(v) else template_vector(v)

    @property
    def weak(self) -> str | None:
        """Why this template is weaker than it should be, or None: one clip has no
        self-similarity, so its probes meet the model's one threshold for everyone rather than
        one set by this user's own clips."""
        if len(self.embeddings) < 2:
            return "enrolled from one clip: probes meet the model's one threshold for everyone, not one set by this user's own clips; add clips with --add"
        return None

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
        cls, user_id: str, embeddings: np.ndarray, model_id: str, passphrase_hash: str | None = None, check_state: dict[str, Any] | None = None, modalities: dict[str, np.ndarray] | None = None
    ) -> "Template":
        emb = np.asarray(embeddings, np.float32)
        if emb.ndim != 2 or len(emb) == 0:
            raise InvalidInputError(f"enrolment needs at least one embedding, got shape {emb.shape}")
        extra = {k: np.asarray(v, np.float32) for k, v in (modalities or {}).items() if len(v)}
        if passphrase_hash is not None and not is_hashed(passphrase_hash):
            raise InvalidInputError("a template keeps a passphrase only hashed (lipauth.auth.passphrase.hash_passphrase)")
        return cls(user_id=user_id, embeddings=emb, model_id=model_id, passphrase_hash=passphrase_hash, check_state=dict(check_state or {}), modalities=extra)

    def to_bytes(self) -> bytes:
        """The binary payload (before encryption): MAGIC, the length of a JSON header (the
        model, the passphrase's hash, times, the checks' state, each array's shape), the
        header, then the arrays as float32 (little-endian: every platform lipauth runs on). A tenth of the JSON it replaced,
        and read ~30x faster: a store of 10^6 users comes up in seconds, not minutes
        (benchmarks/identify_scale.py --startup)."""
        arrays = {"embeddings": self.embeddings, **{f"modality:{k}": v for k, v in self.modalities.items()}}
        head = {"model_id": self.model_id, "passphrase_hash": self.passphrase_hash, "created_at": self.created_at}
        if self.check_state:
            head["check_state"] = self.check_state
        return _binary(head, arrays)

    @classmethod
    def from_bytes(cls, user_id: str, data: bytes) -> "Template":
        if data[:4] == MAGIC:
            return cls._from_binary(user_id, data)
        return cls._from_json(user_id, data)

    @classmethod
    def _from_binary(cls, user_id: str, data: bytes) -> "Template":
        return cls._from_read(user_id, *_read_binary(data))

    @classmethod
    def _from_read(cls, user_id: str, head: dict, arrays: dict[str, np.ndarray]) -> "Template":
        return cls(
            user_id=user_id, embeddings=arrays.pop("embeddings"), model_id=head["model_id"], passphrase_hash=head.get("passphrase_hash"), created_at=head["created_at"],
            check_state=dict(head.get("check_state") or {}), modalities={k.split(":", 1)[1]: v for k, v in arrays.items()},
        )

    def to_parts(self) -> tuple[bytes, bytes]:
        """The template as two binary payloads, encrypted apart by the store: what the identify
        index reads (the model and the lips' embeddings, a third of the bytes) and the rest
        (the other modalities, the passphrase's hash, the checks' state). A service coming up
        decrypts only the first (lipauth.auth.indexed)."""
        first = _binary({"model_id": self.model_id, "created_at": self.created_at}, {"embeddings": self.embeddings})
        rest = {"passphrase_hash": self.passphrase_hash, **({"check_state": self.check_state} if self.check_state else {})}
        return first, _binary(rest, {f"modality:{k}": v for k, v in self.modalities.items()})

    @classmethod
    def from_parts(cls, user_id: str, first: bytes, rest: bytes) -> "Template":
        head, arrays = _read_binary(first)
        more, extra = _read_binary(rest)
        return cls._from_read(user_id, {**head, **more}, {**arrays, **extra})

    @staticmethod
    def index_part(first: bytes) -> tuple[str, np.ndarray]:
        """(model id, embeddings) from a template's first part (to_parts)."""
        head, arrays = _read_binary(first)
        return head["model_id"], arrays["embeddings"]

    @classmethod
    def _from_json(cls, user_id: str, data: bytes) -> "Template":
        """Templates stored before the binary payload (lipauth <= 0.x): JSON."""
        d = json.loads(data)
        state = dict(d.get("check_state") or {})
        if d.get("face_refs") is not None:  # templates enrolled before checks kept their own state
            state.setdefault("face_liveness_siamese", {"model_id": d.get("face_refs_model"), "refs": d["face_refs"]})
        secret = d.get("passphrase_hash")
        if secret is None and d.get("passphrase") is not None:  # templates from before hashing kept it in the clear
            secret = hash_passphrase(d["passphrase"])
        return cls(
            user_id=user_id, embeddings=np.asarray(d["embeddings"], np.float32), model_id=d["model_id"], passphrase_hash=secret, created_at=d["created_at"], check_state=state,
            modalities={k: np.asarray(v, np.float32) for k, v in (d.get("modalities") or {}).items()},
        )


def _binary(head: dict, arrays: dict[str, np.ndarray]) -> bytes:
    """MAGIC, the header's length, the JSON header (with each array's shape), the float32 arrays."""
    header = json.dumps({**head, "shapes": {k: list(v.shape) for k, v in arrays.items()}}, separators=(",", ":")).encode()
    return b"".join([MAGIC, struct.pack("<I", len(header)), header, *(np.ascontiguousarray(v, np.float32).tobytes() for v in arrays.values())])


def _read_binary(data: bytes) -> tuple[dict, dict[str, np.ndarray]]:
    """(the header without the shapes, name -> read-only float32 view of the data)."""
    if data[:4] != MAGIC:
        raise InvalidInputError("not a binary template payload")
    (n,) = struct.unpack_from("<I", data, 4)
    head = json.loads(data[8 : 8 + n])
    arrays, at = {}, 8 + n
    for name, shape in head.pop("shapes").items():
        size = int(np.prod(shape))
        arrays[name] = np.frombuffer(data, np.float32, size, at).reshape(shape)  # a read-only view: templates are not changed in place
        at += 4 * size
    return head, arrays
