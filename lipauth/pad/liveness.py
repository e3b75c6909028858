"""Face liveness: a Siamese CNN on 64x64x3 face crops, trained with contrastive loss on
pairs built per client (real-real pairs are positives, real-fake pairs negatives), as in the
seed design. At test time a probe's face crops are compared with the client's enrolled real
crops: a bona fide probe lies near them, a print or a replay of the same face lies far.

Where a client has no enrolled face crops (templates made before liveness existed), the
probe is compared with the bona fide reference the model file carries (the mean embedding of
its training clients' real crops).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from lipauth.pad.face_sample import FACE_SIZE
from lipauth.errors import InvalidInputError
from lipauth.artifacts import artifact_id, load_artifact, plain, save_artifact

FORMAT = "lipauth-liveness/2"  # /2: a list of networks (an ensemble of seeds); /1: one
SIZE = FACE_SIZE


class LivenessNet(nn.Module):
    """AlexNet-like, sized for 64x64 input: 4 conv blocks then two dense layers."""

    def __init__(self, embedding_dim: int = 64) -> None:
        super().__init__()
        block = lambda i, o, k: [nn.Conv2d(i, o, k, padding=k // 2, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True)]  # noqa: E731
        self.features = nn.Sequential(
            *block(3, 32, 5), nn.MaxPool2d(2), *block(32, 64, 3), nn.MaxPool2d(2), *block(64, 128, 3), nn.MaxPool2d(2), *block(128, 128, 3), nn.AdaptiveAvgPool2d(2)
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(512, 256), nn.ReLU(inplace=True), nn.Dropout(0.3), nn.Linear(256, embedding_dim))
        self.embedding_dim = embedding_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(self.head(self.features(x)), dim=1)


def to_tensor(crops: np.ndarray) -> torch.Tensor:
    c = np.asarray(crops)
    if c.ndim != 4 or c.shape[1:] != (SIZE, SIZE, 3) or c.dtype != np.uint8:
        raise InvalidInputError(f"face crops must be (N, {SIZE}, {SIZE}, 3) uint8, got {c.shape} {c.dtype}")
    return torch.from_numpy(c.astype(np.float32) / 127.5 - 1.0).permute(0, 3, 1, 2)


class LivenessModel:
    """One network, or several (seeds of one recipe): their L2-normalised embeddings side by
    side, divided by sqrt(M), so that a cosine is the mean of the members' cosines."""

    def __init__(
        self, nets: LivenessNet | list[LivenessNet], reference: np.ndarray | None = None, thresholds: dict | None = None, info: dict | None = None, model_id: str = ""
    ) -> None:
        self.nets = [n.eval() for n in (nets if isinstance(nets, list) else [nets])]
        if not self.nets:
            raise InvalidInputError("a liveness model needs at least one network")
        self.id = model_id  # enrolled face embeddings are only comparable with this model's
        self.reference = reference
        self.thresholds = thresholds or {}
        self.info = info or {}

    @torch.no_grad()
    def embed(self, crops: np.ndarray) -> np.ndarray:
        x = to_tensor(crops)
        return (torch.cat([n(x) for n in self.nets], dim=1) / len(self.nets) ** 0.5).numpy()

    def score(self, crops: np.ndarray, references: np.ndarray | None = None) -> float:
        """Mean cosine similarity of the probe's crops to the client's enrolled real crops'
        embeddings (higher = bona fide); without them, to the model's bona fide reference."""
        refs = references if references is not None and len(references) else self.reference
        if refs is None:
            raise InvalidInputError("no enrolled face crops for this client and no reference in the model")
        refs = np.atleast_2d(np.asarray(refs, np.float32))
        return float(np.mean(self.embed(crops) @ refs.T))

    def save(self, path: str | os.PathLike) -> Path:
        blob = {"format": FORMAT, "embedding_dim": self.nets[0].embedding_dim, "state_dicts": [n.state_dict() for n in self.nets], "thresholds": plain(self.thresholds), "info": plain(self.info)}
        if self.reference is not None:
            blob["reference"] = torch.from_numpy(np.asarray(self.reference, np.float32))
        return save_artifact(path, blob)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "LivenessModel":
        blob = load_artifact(path, FORMAT, "a face-liveness model file", older=("lipauth-liveness/1",))
        nets = []
        for state in blob.get("state_dicts") or [blob["state_dict"]]:
            nets.append(LivenessNet(blob["embedding_dim"]))
            nets[-1].load_state_dict(state)
        ref = blob.get("reference")
        return cls(nets, None if ref is None else ref.numpy(), blob.get("thresholds", {}), blob.get("info", {}), model_id=artifact_id(path))
