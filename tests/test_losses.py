import math

import pytest
import torch
import torch.nn.functional as F

from lipauth.errors import InvalidInputError
from lipauth.training.losses import make_loss, make_miner


def _points():
    # Unit vectors at known angles: two of label 0, two of label 1.
    ang = torch.tensor([0.0, 0.3, 0.5, 2.0])
    emb = torch.stack([torch.cos(ang), torch.sin(ang)], dim=1)
    return emb, torch.tensor([0, 0, 1, 1]), ang


def test_triplet_cosine_loss_by_hand():
    emb, y, ang = _points()
    loss_fn = make_loss({"type": "triplet", "margin": 0.2, "distance": "cosine"})
    # One triplet: anchor 0, positive 1, negative 2. With cosine similarity the loss is
    # relu(sim(a, n) - sim(a, p) + margin).
    a, p, n = torch.tensor([0]), torch.tensor([1]), torch.tensor([2])
    got = loss_fn(emb, y, (a, p, n))
    want = max(0.0, math.cos(0.5) - math.cos(0.3) + 0.2)
    assert float(got) == pytest.approx(want, abs=1e-5)


def test_triplet_squared_l2_loss_by_hand():
    emb, y, ang = _points()
    loss_fn = make_loss({"type": "triplet", "margin": 0.5, "distance": "squared_l2"})
    a, p, n = torch.tensor([0]), torch.tensor([1]), torch.tensor([2])
    d_ap = float(((emb[0] - emb[1]) ** 2).sum())
    d_an = float(((emb[0] - emb[2]) ** 2).sum())
    assert float(loss_fn(emb, y, (a, p, n))) == pytest.approx(max(0.0, d_ap - d_an + 0.5), abs=1e-5)


def test_contrastive_l2_loss_by_hand():
    emb, y, _ = _points()
    loss_fn = make_loss({"type": "contrastive", "distance": "l2", "pos_margin": 0.0, "neg_margin": 1.0})
    # (pytorch-metric-learning returns 0 when every index list has a single element, so use two.)
    pos = [(0, 1), (2, 3)]
    neg = [(0, 2), (1, 3)]
    idx = tuple(torch.tensor(v) for v in ([a for a, _ in pos], [b for _, b in pos], [a for a, _ in neg], [b for _, b in neg]))
    d = lambda i, j: float((emb[i] - emb[j]).norm())  # noqa: E731
    pos_terms = [d(i, j) for i, j in pos]
    neg_terms = [max(0.0, 1.0 - d(i, j)) for i, j in neg]
    # positive and negative losses are each averaged over their non-zero terms, then added
    want = sum(pos_terms) / sum(t > 0 for t in pos_terms) + (sum(neg_terms) / max(1, sum(t > 0 for t in neg_terms)))
    assert float(loss_fn(emb, y, idx)) == pytest.approx(want, abs=1e-5)


def test_batch_hard_miner_picks_the_hardest():
    emb, y, ang = _points()
    a, p, n = make_miner("batch_hard")(emb, y)
    got = {int(i): (int(j), int(k)) for i, j, k in zip(a, p, n)}
    # anchor 0: only positive is 1; hardest negative (most similar) is 2 (angle 0.5 < 2.0)
    assert got[0] == (1, 2)
    # anchor 2 (angle 0.5): positive 3 (angle 2.0); hardest negative is 1 (angle 0.3)
    assert got[2] == (3, 1)


def test_unknown_names():
    with pytest.raises(InvalidInputError):
        make_loss({"type": "arcface"})
    with pytest.raises(InvalidInputError):
        make_miner("hardest-ever")
    with pytest.raises(InvalidInputError):
        make_loss({"distance": "manhattan"})


def test_loss_falls_when_embeddings_separate():
    loss_fn = make_loss({"type": "triplet", "margin": 0.2})
    y = torch.tensor([0, 0, 1, 1])
    mixed = F.normalize(torch.tensor([[1.0, 0.1], [0.1, 1.0], [1.0, 0.0], [0.0, 1.0]]), dim=1)
    apart = F.normalize(torch.tensor([[1.0, 0.0], [1.0, 0.05], [-1.0, 0.0], [-1.0, 0.05]]), dim=1)
    assert float(loss_fn(apart, y)) < float(loss_fn(mixed, y))
