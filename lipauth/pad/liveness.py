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
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from pytorch_metric_learning.distances import LpDistance
from pytorch_metric_learning.losses import ContrastiveLoss
from rich.progress import Progress
from torch import nn

from lipauth.pad.face_sample import FACE_SIZE, FaceSample
from lipauth.errors import EmptyCorpusError, InvalidInputError
from lipauth.training.ensemble import train_members
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


@dataclass
class LivenessTrainConfig:
    epochs: int = 15
    clients_per_batch: int = 6
    crops_per_kind: int = 6  # real crops and fake crops drawn per client in a batch
    lr: float = 1e-3
    weight_decay: float = 1e-4
    margin: float = 1.0
    seed: int = 0
    steps_per_epoch: int = 40


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


def train_liveness(samples: list[FaceSample], cfg: LivenessTrainConfig | None = None, *, progress: bool = True) -> tuple[LivenessModel, dict]:
    """Contrastive training on per-client pairs: real-real positive, real-fake negative."""
    cfg = cfg or LivenessTrainConfig()
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    real, fake = _by_client(samples)
    clients = sorted(c for c in real if c in fake)
    if not clients:
        raise EmptyCorpusError("liveness training needs clients with both real and fake face crops")
    net = LivenessNet()
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    loss_fn = ContrastiveLoss(pos_margin=0.0, neg_margin=cfg.margin, distance=LpDistance())
    history, t0 = [], time.time()
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task("training face liveness", total=cfg.epochs * cfg.steps_per_epoch)
        for epoch in range(cfg.epochs):
            net.train()
            losses = []
            for _ in range(cfg.steps_per_epoch):
                x, a1, p, a2, n = _batch(clients, real, fake, cfg, rng)
                loss = loss_fn(net(_augment(x, rng)), indices_tuple=(a1, p, a2, n))
                opt.zero_grad()
                loss.backward()
                opt.step()
                losses.append(loss.item())
                bar.advance(task)
            history.append({"epoch": epoch + 1, "loss": float(np.mean(losses))})
    model = LivenessModel(net)
    model.reference = _reference(model, real, clients)
    info = {"clients": clients, "n_real": int(sum(len(real[c]) for c in clients)), "n_fake": int(sum(len(fake[c]) for c in clients)), "train": cfg.__dict__, "history": history, "seconds": round(time.time() - t0, 1)}
    model.info = info
    return model, info


def train_liveness_ensemble(samples: list[FaceSample], cfg: LivenessTrainConfig | None = None, *, members: int = 1, progress: bool = True) -> tuple[LivenessModel, dict]:
    """`members` networks trained alike from seeds cfg.seed, cfg.seed + 1, ...
    (lipauth.training.ensemble), scored together; members=1 is train_liveness."""
    cfg = cfg or LivenessTrainConfig()
    runs = train_members(cfg.seed, members, lambda i, seed: train_liveness(samples, replace(cfg, seed=seed), progress=progress))
    if len(runs) == 1:
        return runs[0]
    model = LivenessModel([net for m, _ in runs for net in m.nets])
    model.reference = _reference(model, _by_client(samples)[0], runs[0][1]["clients"])
    info = {**runs[0][1], "members": members, "seconds": round(sum(r["seconds"] for _, r in runs), 1)}
    info["history"] = [{"member": i, "seed": cfg.seed + i, **h} for i, (_, r) in enumerate(runs) for h in r["history"]]
    model.info = info
    return model, info


def _reference(model: LivenessModel, real: dict[str, np.ndarray], clients: list[str]) -> np.ndarray:
    """The bona fide reference: the mean embedding of the training clients' real crops."""
    ref = np.concatenate([model.embed(real[c]) for c in clients]).mean(axis=0)
    return (ref / max(float(np.linalg.norm(ref)), 1e-12)).astype(np.float32)


def _by_client(samples: list[FaceSample]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    real, fake = {}, {}
    for s in samples:
        (real if s.bona_fide else fake).setdefault(s.client, []).append(s.crops)
    return {k: np.concatenate(v) for k, v in real.items()}, {k: np.concatenate(v) for k, v in fake.items()}


def _batch(clients, real, fake, cfg: LivenessTrainConfig, rng: np.random.Generator):
    chosen = rng.choice(clients, size=min(cfg.clients_per_batch, len(clients)), replace=False)
    crops, kinds, owners = [], [], []
    for ci, c in enumerate(chosen):
        for pool, kind in ((real[c], 1), (fake[c], 0)):
            idx = rng.choice(len(pool), size=cfg.crops_per_kind, replace=len(pool) < cfg.crops_per_kind)
            crops.append(pool[idx])
            kinds += [kind] * cfg.crops_per_kind
            owners += [ci] * cfg.crops_per_kind
    kinds, owners = np.array(kinds), np.array(owners)
    same = owners[:, None] == owners[None, :]
    pos = same & (kinds[:, None] == 1) & (kinds[None, :] == 1) & ~np.eye(len(kinds), dtype=bool)
    neg = same & (kinds[:, None] == 1) & (kinds[None, :] == 0)
    a1, p = np.nonzero(pos)
    a2, n = np.nonzero(neg)
    t = lambda v: torch.as_tensor(v, dtype=torch.long)  # noqa: E731
    return to_tensor(np.concatenate(crops)), t(a1), t(p), t(a2), t(n)


def _augment(x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Mirror and small brightness changes: a bona fide face under other light is still
    bona fide, so liveness must not hinge on exposure."""
    flip = torch.from_numpy(rng.random(len(x)) < 0.5)
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    gain = torch.from_numpy(rng.uniform(0.85, 1.15, size=(len(x), 1, 1, 1)).astype(np.float32))
    return ((x + 1) * gain - 1).clamp(-1, 1)
