"""A trained model with everything needed to use it: `LipEmbedder`, and its file format.

model.pt is self-contained (loaded with torch.load(weights_only=True), no pickled classes):
    format, model {name, config}, state_dict, preprocessing {crop, backend, length},
    backend_scoring (whitening fitted on the training speakers' embeddings; for an ensemble,
    model {name: ensemble, config: {members: [...]}} and one whitening per member), thresholds
    {eer, fmr_1pct, ...} for clip-against-clip trials and verify_thresholds for a probe
    against a 3-clip enrolment template, and an llr calibration {a, b}, all fitted on the
    validation speakers, optionally fusion (lipauth.scoring.fusion: the rules that fuse the
    lips with the voice and face encoders), plus
    provenance (training speakers, validation metrics, git commit).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from lipauth.artifacts import load_artifact, save_artifact
from lipauth.features.batching import to_batch
from lipauth.features.mfcc import has_audio
from lipauth.clip import LipClip
from lipauth.errors import InvalidInputError
from lipauth.scoring.whitening import MemberWhitening, Whitening
from lipauth.models.frozen import frozen_network
from lipauth.models.registry import create_model
from lipauth.clip import CropSpec

FORMAT = "lipauth-model/1"


@dataclass
class LipEmbedder:
    model: torch.nn.Module
    model_name: str
    model_config: dict[str, Any]
    crop: CropSpec
    backend: str = "dlib"
    length: int | None = None  # clips are cropped/padded to this many frames, if set
    normalize: str = "dataset"  # pixel normalisation, see lipauth.features.batching
    thresholds: dict[str, float] = field(default_factory=dict)  # clip against clip (evaluation)
    verify_thresholds: dict[str, float] = field(default_factory=dict)  # probe against an enrolment template
    calibration: dict[str, float] | None = None
    backend_scoring: Whitening | MemberWhitening | None = None  # applied to the network's embeddings, if fitted
    info: dict[str, Any] = field(default_factory=dict)
    fusion: dict[str, Any] | None = None  # score fusion with the voice and face encoders (lipauth.scoring.fusion)
    # None: eager; False: freeze at the next batch (freeze_for_inference); else the frozen network
    _frozen: Any = field(default=None, init=False, repr=False, compare=False)

    def freeze_for_inference(self) -> None:
        """Run the network as frozen TorchScript from the next batch on (lipauth.models.frozen:
        about half the time per clip). For long-lived processes that only embed, such as the
        service: tracing costs ~1 s once, and the frozen copy ignores later weight changes."""
        if self._frozen is None:
            self._frozen = False

    def _run(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        if self._frozen is None:
            return self.model(batch)
        if self._frozen is False:
            self._frozen = frozen_network(self.model, batch) or self.model
        return self._frozen(batch)

    @property
    def uses_landmarks(self) -> bool:
        return bool(getattr(self.model, "uses_landmarks", False))

    @property
    def uses_audio(self) -> bool:
        return bool(getattr(self.model, "uses_audio", False))

    def embed_clips(self, clips: Sequence[LipClip], batch_size: int = 32) -> np.ndarray:
        """(N, D) L2-normalised embeddings, through the scoring backend if there is one."""
        raw = self.network_embeddings(clips, batch_size)
        return self.backend_scoring.transform(raw) if self.backend_scoring is not None else raw

    @torch.no_grad()
    def network_embeddings(self, clips: Sequence[LipClip], batch_size: int = 32) -> np.ndarray:
        """The network's own embeddings. Clips of equal length are batched together."""
        for clip in clips:
            self.check_clip(clip)
        self.model.eval()
        groups: dict[int, list[int]] = {}
        for i, clip in enumerate(clips):
            groups.setdefault(self.length or clip.n_frames, []).append(i)
        results: dict[int, np.ndarray] = {}
        for length, idx in groups.items():
            for start in range(0, len(idx), batch_size):
                chunk = idx[start : start + batch_size]
                batch = to_batch([clips[i] for i in chunk], length=length, landmarks=self.uses_landmarks, normalize=self.normalize, audio=self.uses_audio)
                results.update(zip(chunk, self._run(batch).cpu().numpy()))
        return np.stack([results[i] for i in range(len(clips))]) if clips else np.zeros((0, 0), np.float32)

    def check_clip(self, clip: LipClip) -> None:
        w, h = clip.size
        if (w, h) != (self.crop.width, self.crop.height) or clip.is_rgb != (self.crop.color == "rgb"):
            raise InvalidInputError(
                f"clip {clip.meta.clip_id} is {w}x{h} {'rgb' if clip.is_rgb else 'grey'}; this model takes {self.crop.width}x{self.crop.height} {self.crop.color}"
            )
        if self.uses_landmarks and clip.landmarks is None:
            raise InvalidInputError(f"clip {clip.meta.clip_id} has no landmarks; this model's landmark branch needs them")
        if self.uses_audio and not has_audio(clip):
            raise InvalidInputError(f"clip {clip.meta.clip_id} has no audio; this model's voice branch needs it")

    # -- file ------------------------------------------------------------------------------
    def identity(self) -> str:
        """16 hex digits naming what makes this model's embeddings: the network, its
        weights, the preprocessing and the back-end whitening. Thresholds, calibration and
        fusion rules are left out, so a recalibrated copy keeps its enrolled users."""
        h = hashlib.sha256()
        spec = {"model": [self.model_name, self.model_config], "crop": vars(self.crop), "backend": self.backend, "length": self.length, "normalize": self.normalize,
                "whitening": self.backend_scoring.to_dict() if self.backend_scoring is not None else None}  # fmt: skip
        h.update(json.dumps(spec, sort_keys=True, default=_plain).encode())
        for name, tensor in sorted(self.model.state_dict().items()):
            h.update(name.encode())
            h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        return h.hexdigest()[:16]

    def save(self, path: str | os.PathLike) -> Path:
        payload = {
            "format": FORMAT,
            "model": {"name": self.model_name, "config": self.model_config},
            "state_dict": self.model.state_dict(),
            "preprocessing": {"crop": vars(self.crop).copy(), "backend": self.backend, "length": self.length, "normalize": self.normalize},
            "thresholds": self.thresholds,
            "verify_thresholds": self.verify_thresholds,
            "calibration": self.calibration,
            "backend_scoring": self.backend_scoring.to_dict() if self.backend_scoring is not None else None,
            "info": self.info,
        }
        if self.fusion:
            payload["fusion"] = self.fusion
        return save_artifact(path, payload)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "LipEmbedder":
        payload = load_artifact(path, FORMAT, "a lipauth model file")
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
            normalize=pre.get("normalize", "dataset"),
            thresholds=payload.get("thresholds") or {},
            verify_thresholds=payload.get("verify_thresholds") or {},
            calibration=payload.get("calibration"),
            backend_scoring=Whitening.from_dict(payload.get("backend_scoring")),
            info=payload.get("info") or {},
            fusion=payload.get("fusion"),
        )


def _plain(x):
    """JSON for the identity's arrays and NumPy numbers."""
    return x.tolist() if hasattr(x, "tolist") else str(x)
