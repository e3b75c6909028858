"""Losses and miners, from pytorch-metric-learning, built from a config dict.

    loss:  {type: triplet, margin: 0.2, distance: cosine | l2 | squared_l2}
           {type: contrastive, pos_margin: 0, neg_margin: 1, distance: ...}
           {type: supcon, temperature: 0.1}   (supervised contrastive, Khosla et al. 2020)
    miner: batch_hard | semihard | all | none
"""

from __future__ import annotations

from pytorch_metric_learning import distances, losses, miners

from lipauth.errors import InvalidInputError


def make_distance(name: str):
    if name == "cosine":
        return distances.CosineSimilarity()  # triplet on cosine = margin on 1 - cos
    if name == "l2":
        return distances.LpDistance(p=2, power=1)
    if name == "squared_l2":
        return distances.LpDistance(p=2, power=2)  # WhisperNet v1's distance
    raise InvalidInputError(f"unknown distance {name!r}; choose cosine, l2 or squared_l2")


def make_loss(cfg: dict):
    cfg = dict(cfg)
    kind = cfg.pop("type", "triplet")
    distance = make_distance(cfg.pop("distance", "cosine"))
    if kind == "triplet":
        return losses.TripletMarginLoss(margin=cfg.pop("margin", 0.2), distance=distance, **cfg)
    if kind == "contrastive":
        pos, neg = cfg.pop("pos_margin", None), cfg.pop("neg_margin", None)
        if isinstance(distance, distances.CosineSimilarity):
            pos, neg = (1.0 if pos is None else pos), (0.0 if neg is None else neg)
        else:
            pos, neg = (0.0 if pos is None else pos), (1.0 if neg is None else neg)
        return losses.ContrastiveLoss(pos_margin=pos, neg_margin=neg, distance=distance, **cfg)
    if kind == "supcon":
        return losses.SupConLoss(temperature=cfg.pop("temperature", 0.1), **cfg)
    raise InvalidInputError(f"unknown loss {kind!r}; choose triplet, contrastive or supcon")


def make_miner(name: str | None, distance: str = "cosine", margin: float = 0.2):
    if name in (None, "none", "all"):
        return None  # the loss then uses every triplet/pair in the batch
    if name == "batch_hard":
        return miners.BatchHardMiner(distance=make_distance(distance))
    if name == "semihard":
        return miners.TripletMarginMiner(margin=margin, type_of_triplets="semihard", distance=make_distance(distance))
    raise InvalidInputError(f"unknown miner {name!r}; choose batch_hard, semihard or none")
