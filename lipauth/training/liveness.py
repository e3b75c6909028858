"""Training the face-liveness Siamese CNN (lipauth.pad.liveness): contrastive loss on pairs
built per client, real-real positive and real-fake negative, as in the seed design; an
ensemble of seeds."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np
import torch
from pytorch_metric_learning.distances import LpDistance
from pytorch_metric_learning.losses import ContrastiveLoss
from rich.progress import Progress

from lipauth.errors import EmptyCorpusError
from lipauth.pad.face_sample import FaceSample
from lipauth.pad.liveness import LivenessModel, LivenessNet, to_tensor
from lipauth.training.ensemble import train_members


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
