"""Reading and writing the PAD model files: a dict with a format tag, saved by torch and
read back with weights_only=True (plain types and tensors only, no pickled code)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from lipauth.errors import InvalidInputError


def plain(obj):
    """Metrics and settings as plain Python types (numpy scalars would need pickled globals)."""
    return json.loads(json.dumps(obj, default=lambda x: x.tolist() if hasattr(x, "tolist") else str(x)))


def save_blob(path: str | os.PathLike, blob: dict) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(blob, path)
    return path


def load_blob(path: str | os.PathLike, fmt: str, what: str, *, older: tuple[str, ...] = ()) -> dict:
    """The dict in a model file of format `fmt` (or one of the `older` formats the caller
    still reads), or an InvalidInputError naming `what` it should be."""
    try:
        blob = torch.load(Path(path), map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError) as exc:
        raise InvalidInputError(f"{path}: not a readable model file ({exc})") from exc
    if not isinstance(blob, dict) or blob.get("format") not in (fmt, *older):
        raise InvalidInputError(f"{path}: not {what} ({fmt})")
    return blob
