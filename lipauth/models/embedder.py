"""A trained model with everything needed to use it: `LipEmbedder`, and its file format.

model.pt is self-contained (loaded with torch.load(weights_only=True), no pickled classes):
    format, model {name, config}, state_dict, preprocessing {crop, backend, length},
    thresholds {eer, fmr_1pct, ...} and llr calibration {a, b} fitted on validation
    speakers, plus provenance (training speakers, validation metrics, git commit).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from lipauth.data.batching import to_batch
from lipauth.data.clip import LipClip
from lipauth.errors import InvalidInputError
from lipauth.models.registry import create_model
from lipauth.video.roi import CropSpec

FORMAT = "lipauth-model/1"


@dataclass
class LipEmbedder:
    model: torch.nn.Module
    model_name: str
    model_config: dict[str, Any]
    crop: CropSpec
    backend: str = "dlib"
    length: int | None = None  # clips are cropped/padded to this many frames, if set
    thresholds: dict[str, float] = field(default_factory=dict)
    calibration: dict[str, float] | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def uses_landmarks(self) -> bool:
        return bool(getattr(self.model, "uses_landmarks", False))

    @torch.no_grad()
    def embed_clips(self, clips: Sequence[LipClip], batch_size: int = 32) -> np.ndarray:
        """(N, D) L2-normalised embeddings. Clips of equal length are batched together."""
        for clip in clips:
            self.check_clip(clip)
        self.model.eval()
        out = np.zeros((len(clips), 0), np.float32)
        groups: dict[int, list[int]] = {}
        for i, clip in enumerate(clips):
            groups.setdefault(self.length or clip.n_frames, []).append(i)
        results: dict[int, np.ndarray] = {}
        for length, idx in groups.items():
            for start in range(0, len(idx), batch_size):
                chunk = idx[start : start + batch_size]
                batch = to_batch([clips[i] for i in chunk], length=length, landmarks=self.uses_landmarks)
                emb = self.model(batch).cpu().numpy()
                results.update(zip(chunk, emb))
        if results:
            out = np.stack([results[i] for i in range(len(clips))])
        return out

    def check_clip(self, clip: LipClip) -> None:
        w, h = clip.size
        if (w, h) != (self.crop.width, self.crop.height) or clip.is_rgb != (self.crop.color == "rgb"):
            raise InvalidInputError(
                f"clip {clip.meta.clip_id} is {w}x{h} {'rgb' if clip.is_rgb else 'grey'}; this model takes {self.crop.width}x{self.crop.height} {self.crop.color}"
            )
        if self.uses_landmarks and clip.landmarks is None:
            raise InvalidInputError(f"clip {clip.meta.clip_id} has no landmarks; this model's landmark branch needs them")

    def llr(self, scores: np.ndarray) -> np.ndarray:
        if not self.calibration:
            raise InvalidInputError("this model carries no score calibration")
        return self.calibration["a"] * np.asarray(scores) + self.calibration["b"]

    # -- file ------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        path = Path(path)
        payload = {
            "format": FORMAT,
            "model": {"name": self.model_name, "config": self.model_config},
            "state_dict": self.model.state_dict(),
            "preprocessing": {"crop": vars(self.crop).copy(), "backend": self.backend, "length": self.length},
            "thresholds": self.thresholds,
            "calibration": self.calibration,
            "info": self.info,
        }
        tmp = path.with_name(f".{path.name}.tmp")
        torch.save(payload, tmp)
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "LipEmbedder":
        path = Path(path)
        if not path.is_file():
            raise InvalidInputError(f"{path}: no such model file")
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises several types for a damaged or foreign file
            raise InvalidInputError(f"{path}: not a lipauth model file ({type(exc).__name__}: {exc})") from None
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            raise InvalidInputError(f"{path}: not a lipauth model file (format {payload.get('format') if isinstance(payload, dict) else '?'})")
        name, config = payload["model"]["name"], payload["model"]["config"]
        model = create_model(name, **config)
        model.load_state_dict(payload["state_dict"])
        model.eval()
        pre = payload["preprocessing"]
        return cls(
            model=model,
            model_name=name,
            model_config=config,
            crop=CropSpec(**pre["crop"]),
            backend=pre.get("backend", "dlib"),
            length=pre.get("length"),
            thresholds=payload.get("thresholds") or {},
            calibration=payload.get("calibration"),
            info=payload.get("info") or {},
        )
