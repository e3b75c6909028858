"""Early fusion: one joint embedding of a clip's lips, voice and face vectors, learned by a
Siamese network with a contrastive loss (the multimodal seed's fusion, on the pretrained
encoders' outputs), scored by the cosine of two joint embeddings and calibrated to an LLR
(issue #14, item 4: the trained alternative to lipauth.scoring.fusion's score fusion).

The network sees the modality vectors themselves, not only their cosines, so it can learn
which directions of each carry the person; with few people it can also learn them by heart,
which the held-out estimate (cross_validated_joint) shows. A modality that cannot run is
masked (zeros and a flag); training drops modalities at random so that a clip without a
face or speech still has an embedding.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from lipauth.errors import InvalidInputError
from lipauth.scoring.fusion import balanced_logistic, llr_thresholds, people_folds
from lipauth.scoring.points import MODALITIES, OPERATING_POINTS


@dataclass(frozen=True)
class JointSettings:
    hidden: int = 128
    epochs: int = 150
    lr: float = 1e-3  # the correction's
    gain_lr: float = 0.05  # the per-modality gains'
    weight_decay: float = 0.1  # the correction's: with tens of people it learns them by heart
    margin: float = 0.5  # the contrastive loss's negative margin (Euclidean, unit vectors)
    modality_dropout: float = 0.3  # chance that training hides a voice or face vector
    seed: int = 0


def _network(dims: dict[str, int], s: JointSettings):
    import torch
    import torch.nn as nn

    class JointNet(nn.Module):
        """The modality vectors side by side, each scaled by a learned gain, plus a learned
        correction from all of them together (an MLP whose last layer starts at zero). It
        starts as the concatenation, whose cosine is a mean of the modalities' cosines: a
        network that had to find people in a blank space learned the few training people by
        heart and nobody else (docs/results.md, early fusion)."""

        def __init__(self) -> None:
            super().__init__()
            self.width = sum(dims.values())
            self.log_gains = nn.Parameter(torch.zeros(len(dims)))
            self.sizes = list(dims.values())
            # input: the vectors, then one presence flag per modality besides the lips
            self.correction = nn.Sequential(nn.Linear(self.width + len(dims) - 1, s.hidden), nn.ReLU(), nn.Dropout(0.2), nn.Linear(s.hidden, self.width))
            nn.init.zeros_(self.correction[-1].weight)
            nn.init.zeros_(self.correction[-1].bias)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            parts = torch.split(x[:, : self.width], self.sizes, dim=1)
            # gains relative to each other (their mean square is 1): shrinking them all would
            # only hand the embedding to the correction
            gains = torch.softmax(self.log_gains, 0).mul(len(self.sizes)).sqrt()
            base = torch.cat([p * g for p, g in zip(parts, gains)], dim=1)
            return base + self.correction(x)

    return JointNet()


def _inputs(rows: list[dict[str, np.ndarray]], dims: dict[str, int]) -> np.ndarray:
    """(N, width) network inputs: each modality's vector (zeros where absent), then flags."""
    out = []
    for r in rows:
        parts = [np.asarray(r[m], np.float32) if r.get(m) is not None else np.zeros(d, np.float32) for m, d in dims.items()]
        flags = [np.float32(r.get(m) is not None) for m in dims if m != "lips"]
        out.append(np.concatenate([*parts, np.array(flags, np.float32)]))
    return np.stack(out)


class JointFusion:
    """The trained joint embedding and the LLR calibration of its cosine."""

    def __init__(self, dims: dict[str, int], settings: JointSettings, state: dict[str, Any], slope: float, bias: float, thresholds: dict[str, float], source: str = "") -> None:
        import torch

        if next(iter(dims), None) != "lips":
            raise InvalidInputError("a joint embedding starts from the lips")
        self.dims, self.settings, self.source = dict(dims), settings, source
        self.slope, self.bias, self.thresholds = float(slope), float(bias), dict(thresholds)
        self.net = _network(self.dims, settings)
        self.net.load_state_dict({k: torch.as_tensor(np.asarray(v, np.float32)) for k, v in state.items()})
        self.net.eval()

    @property
    def modalities(self) -> tuple[str, ...]:
        return tuple(self.dims)

    def embed(self, rows: list[dict[str, np.ndarray]]) -> np.ndarray:
        """(N, D) unit joint embeddings of clips (or templates): modality -> vector each."""
        import torch

        with torch.inference_mode():
            z = self.net(torch.from_numpy(_inputs(rows, self.dims)))
            return torch.nn.functional.normalize(z, dim=1).numpy()

    def llr(self, a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> float:
        """The LLR that `a` and `b` (modality -> vector; the lips always) are one person."""
        return self.llr_of(*self.embed([a, b]))

    def judge(self, scores: dict[str, float], enrolled: dict[str, np.ndarray], probe: dict[str, np.ndarray], per_user: bool = True) -> tuple[float, dict[str, float], str] | None:
        """The fusion interface (ScoreFusion.judge): the LLR of the template's joint embedding
        (from each modality's template vector) against the probe's, and the model's
        thresholds; no per-user level here."""
        used = tuple(m for m in self.modalities if m in scores)
        if used != tuple(self.modalities):
            return None  # a joint embedding needs every modality it was trained on
        from lipauth.scoring.templates import template_vector

        llr = self.llr({m: template_vector(enrolled[m]) for m in used}, {m: probe[m] for m in used})
        return llr, dict(self.thresholds), "the model's threshold"

    def score_llr(self, scores: dict[str, float]) -> float | None:
        """An LLR from cosines alone: none (the joint embedding needs the vectors)."""
        return None

    def llr_of(self, za: np.ndarray, zb: np.ndarray) -> float:
        """The same, from two joint embeddings already made."""
        return self.slope * float(za @ zb) + self.bias

    @classmethod
    def fit(cls, people: list[str], rows: list[dict[str, np.ndarray]], settings: JointSettings = JointSettings(), source: str = "") -> "JointFusion":
        """Train on labelled clips (person, modality -> vector; every clip with the same
        modalities), then calibrate the joint cosine of every pair of them to an LLR."""
        net_state, dims = _train(people, rows, settings)
        fusion = cls(dims, settings, net_state, 1.0, 0.0, {p: 0.0 for p in OPERATING_POINTS}, source)
        cos, genuine = _pair_cosines(fusion.embed(rows), people)
        lr = balanced_logistic(cos[:, None], genuine)
        fusion.slope, fusion.bias = float(lr.coef_[0, 0]), float(lr.intercept_[0])
        fusion.thresholds = llr_thresholds(fusion.slope * cos + fusion.bias, genuine)
        return fusion

    def to_dict(self) -> dict[str, Any]:
        state = {k: v.detach().numpy().tolist() for k, v in self.net.state_dict().items()}
        return {
            "method": "early", "dims": self.dims, "settings": vars(self.settings), "state": state,
            "slope": self.slope, "bias": self.bias, "thresholds": self.thresholds, "source": self.source,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "JointFusion":
        if set(d["thresholds"]) != set(OPERATING_POINTS) or any(m not in MODALITIES for m in d["dims"]):
            raise InvalidInputError("this joint fusion is not one lipauth makes")
        return cls(d["dims"], JointSettings(**d["settings"]), d["state"], d["slope"], d["bias"], d["thresholds"], d.get("source", ""))


def _train(people: list[str], rows: list[dict[str, np.ndarray]], s: JointSettings) -> tuple[dict[str, Any], dict[str, int]]:
    import torch
    from pytorch_metric_learning.distances import LpDistance
    from pytorch_metric_learning.losses import ContrastiveLoss

    if not rows or any(set(r) != set(rows[0]) for r in rows):
        raise InvalidInputError("a joint embedding trains on clips that all have the same modalities")
    if len(set(people)) < 2 or len(set(people)) == len(people):
        raise InvalidInputError("a joint embedding needs two people or more, and someone with two clips")
    dims = {m: len(rows[0][m]) for m in MODALITIES if m in rows[0]}
    torch.manual_seed(s.seed)
    rng = np.random.default_rng(s.seed)
    net = _network(dims, s)
    x = torch.from_numpy(_inputs(rows, dims))
    labels = torch.as_tensor(np.unique(people, return_inverse=True)[1])
    # which input columns each droppable modality owns, and its flag's column
    spans, start = {}, 0
    for m, d in dims.items():
        spans[m] = (start, start + d)
        start += d
    flag = {m: start + i for i, m in enumerate(m for m in dims if m != "lips")}
    loss_fn = ContrastiveLoss(pos_margin=0.0, neg_margin=s.margin, distance=LpDistance(normalize_embeddings=True))
    # the gains move fast and freely (3 numbers); the correction slowly, held near zero
    opt = torch.optim.Adam([{"params": [net.log_gains], "lr": s.gain_lr, "weight_decay": 0.0}, {"params": net.correction.parameters()}], lr=s.lr, weight_decay=s.weight_decay)
    net.train()
    for _ in range(s.epochs):  # one batch of every clip: every pair is a trial of the loss
        xb = x.clone()
        for m, col in flag.items():
            hide = torch.from_numpy(rng.random(len(xb)) < s.modality_dropout)
            a, b = spans[m]
            xb[hide, a:b] = 0.0
            xb[hide, col] = 0.0
        loss = loss_fn(net(xb), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return {k: v.detach().numpy() for k, v in net.state_dict().items()}, dims


def _pair_cosines(z: np.ndarray, people: list[str]) -> tuple[np.ndarray, np.ndarray]:
    i, j = np.triu_indices(len(z), k=1)
    p = np.asarray(people)
    return np.einsum("nd,nd->n", z[i], z[j]), p[i] == p[j]


def cross_validated_joint(people: list[str], rows: list[dict[str, np.ndarray]], folds: int = 4, seed: int = 0, settings: JointSettings = JointSettings()) -> tuple[np.ndarray, np.ndarray]:
    """How early fusion does on people it was not trained on, on the trials of every pair of
    `rows` in itertools.combinations order (scoring.fusion.cross_validated_llr's folds): a
    fold's pairs get the LLR of a network trained and calibrated on the other folds' clips.
    Returns (llr, scored)."""
    fold = people_folds(people, folds, seed)
    f = np.array([fold[p] for p in people])
    pairs = list(itertools.combinations(range(len(rows)), 2))
    llr, scored = np.zeros(len(pairs)), np.zeros(len(pairs), bool)
    index = {pair: n for n, pair in enumerate(pairs)}
    for k in range(folds):
        train, test = np.flatnonzero(f != k), np.flatnonzero(f == k)
        try:
            fusion = JointFusion.fit([people[i] for i in train], [rows[i] for i in train], settings)
        except InvalidInputError:  # a fold whose other folds hold no one with two clips
            continue
        z = fusion.embed([rows[i] for i in test])
        for (a, za), (b, zb) in itertools.combinations(zip(test, z), 2):
            n = index[(a, b)]
            llr[n], scored[n] = fusion.llr_of(za, zb), True
    return llr, scored
