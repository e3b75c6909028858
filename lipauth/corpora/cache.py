"""LipClip <-> one compressed .npz file, written atomically (temp file + rename), so that an
interrupted write never leaves a half-written clip behind."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from lipauth.clip import ClipMeta, FaceViews, LipClip
from lipauth.errors import InvalidInputError

FORMAT_VERSION = 1
_ARRAYS = ("frames", "landmarks", "audio", "audio_features", "boxes")
VIEWS = ("crops", "chips", "thumbnails")  # FaceViews' arrays, stored as view_<name>


def save_clip(clip: LipClip, path: str | os.PathLike) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {name: getattr(clip, name) for name in _ARRAYS if getattr(clip, name) is not None}
    extra_arrays = {f"extra_{k}": v for k, v in clip.extra.items() if isinstance(v, np.ndarray)}
    extra_arrays |= {f"view_{k}": v for k in VIEWS if (v := getattr(clip.views, k)) is not None}
    extra_plain = {k: v for k, v in clip.extra.items() if not isinstance(v, np.ndarray)}
    header = {
        "format_version": FORMAT_VERSION,
        "meta": clip.meta.to_dict(),
        "fps": clip.fps,
        "audio_features_rate": clip.audio_features_rate,
        "extra": extra_plain,
        "trimmed_s": clip.trimmed_s,
    }
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez_compressed(fh, header=np.array(json.dumps(header)), **arrays, **extra_arrays)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_clip(path: str | os.PathLike) -> LipClip:
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(str(data["header"]))
            arrays = {name: data[name] for name in _ARRAYS if name in data.files}
            extra = {k[len("extra_") :]: data[k] for k in data.files if k.startswith("extra_")}
            views = {k: data[f"view_{k}"] for k in VIEWS if f"view_{k}" in data.files}
    except (OSError, ValueError, KeyError) as exc:
        raise InvalidInputError(f"{path}: not a lipauth clip file ({exc})") from exc
    extra.update(header.get("extra", {}))
    for k, old in (("crops", "face_crops"), ("chips", "face_chips"), ("thumbnails", "thumbnails")):  # files written before FaceViews
        if old in extra and k not in views:
            views[k] = extra.pop(old)
    return LipClip(
        meta=ClipMeta.from_dict(header["meta"]),
        fps=header["fps"],
        audio_features_rate=header.get("audio_features_rate"),
        extra=extra,
        views=FaceViews(**views),
        trimmed_s=header.get("trimmed_s"),
        **arrays,
    )
