"""Every model file lipauth writes or reads: a dict with a format tag, saved by torch and read
back with weights_only=True (plain types and tensors only, no pickled code), written to a
temporary name and renamed so that an interrupted save leaves the old file whole. A file's id
is the digest of its bytes: templates and enrolled check state name the model that made
them, and are compared only with that model's output."""

from __future__ import annotations

import hashlib
import json
import os
from importlib import resources
from pathlib import Path

import torch

from lipauth.errors import InvalidInputError

# The model files shipped inside the package (lipauth/assets/).
LIP_MODEL = "default_model.pt"  # the lips' network with the fusion rules for voice and face (configs/fusion.yaml) inside
SYNC_MODEL = "avsync.pt"
LIVENESS_MODEL = "liveness.pt"
TEXTURE_MODEL = "texture.pt"


def bundled(name: str) -> Path:
    """The path of a model file shipped with lipauth."""
    return Path(str(resources.files("lipauth") / "assets" / name))


def plain(obj):
    """Metrics and settings as plain Python types (numpy scalars would need pickled globals)."""
    return json.loads(json.dumps(obj, default=lambda x: x.tolist() if hasattr(x, "tolist") else str(x)))


def save_artifact(path: str | os.PathLike, blob: dict) -> Path:
    """Write `blob` (which names its "format") atomically: a reader sees the old file or the
    new one, never half of one."""
    if not isinstance(blob.get("format"), str):
        raise InvalidInputError("a model file needs a format tag")
    return atomic_save(blob, path)


def atomic_save(obj, path: str | os.PathLike) -> Path:
    """torch.save to a temporary name, then rename (checkpoints too: a run killed mid-save
    resumes from the previous epoch rather than from a truncated file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)
    return path


def load_artifact(path: str | os.PathLike, fmt: str, what: str, *, older: tuple[str, ...] = ()) -> dict:
    """The dict in a model file of format `fmt` (or one of the `older` formats the caller
    still reads), or an InvalidInputError naming `what` it should be."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"{path}: no such model file")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a damaged or foreign file
        raise InvalidInputError(f"{path}: not {what} (torch could not read it: {type(exc).__name__})") from None
    if not isinstance(blob, dict) or blob.get("format") not in (fmt, *older):
        found = blob.get("format") if isinstance(blob, dict) else "?"
        raise InvalidInputError(f"{path}: not {what} ({fmt}; found format {found})")
    return blob


def artifact_id(path: str | os.PathLike) -> str:
    """The first 16 hex digits of the file's SHA-256."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
