import pytest
import torch

from lipauth.errors import InvalidInputError
from lipauth.models.registry import create_model, model_names

VARIANTS = [
    ("whispernet_v1", {}, 256),
    ("whispernet_v1", {"use_landmarks": False}, 256),
    ("whispernet_v1", {"use_video": False}, 256),
    ("whispernet_v2", {}, 128),
    ("whispernet_v2", {"pathways": "slow"}, 128),
    ("whispernet_v2", {"pathways": "fast"}, 128),
]


def _batch(b=3, t=16, k=24, c=1, h=18, w=30):
    torch.manual_seed(0)
    return {"video": torch.randn(b, c, t, h, w), "landmarks": torch.randn(b, t, 2 * k)}


def test_registry():
    assert model_names() == ["ensemble", "lip_voice", "voice", "whispernet_v1", "whispernet_v2"]
    with pytest.raises(InvalidInputError, match="unknown model"):
        create_model("resnet50")
    with pytest.raises(InvalidInputError, match="bad settings"):
        create_model("whispernet_v2", depth=7)
    with pytest.raises(InvalidInputError):
        create_model("whispernet_v1", use_video=False, use_landmarks=False)


@pytest.mark.parametrize("name, cfg, dim", VARIANTS)
@pytest.mark.parametrize("t", [12, 33])
def test_shapes_and_unit_norm(name, cfg, dim, t):
    model = create_model(name, **cfg).eval()
    with torch.no_grad():
        emb = model(_batch(t=t))
    assert emb.shape == (3, dim)
    torch.testing.assert_close(emb.norm(dim=1), torch.ones(3))


@pytest.mark.parametrize("name, cfg, dim", VARIANTS)
def test_gradient_reaches_every_parameter(name, cfg, dim):
    model = create_model(name, **cfg).train()
    emb = model(_batch())
    (emb[0] @ emb[1] - emb[0] @ emb[2]).backward()
    dead = [n for n, p in model.named_parameters() if p.requires_grad and (p.grad is None or p.grad.abs().sum() == 0)]
    assert dead == []


def test_rgb_and_other_sizes():
    model = create_model("whispernet_v2", width=80, height=60, channels=3).eval()
    with torch.no_grad():
        assert model(_batch(c=3, h=60, w=80)).shape == (3, 128)
    v1 = create_model("whispernet_v1", width=80, height=60, channels=3, n_landmarks=40).eval()
    with torch.no_grad():
        assert v1(_batch(c=3, h=60, w=80, k=40)).shape == (3, 256)


def test_v1_without_landmarks_says_so():
    model = create_model("whispernet_v1").eval()
    with pytest.raises(InvalidInputError, match="landmark"):
        model({"video": torch.randn(2, 1, 12, 18, 30)})


def test_slowfast_pathways_see_what_they_should():
    """The slow pathway sees every alpha-th frame: changing another frame must not change a
    slow-only embedding, but must change a fast-only one."""
    torch.manual_seed(0)
    x = torch.randn(1, 1, 16, 18, 30)
    y = x.clone()
    y[:, :, 1] += 3.0  # frame 1 is not among frames 0, 4, 8, 12
    for pathways, should_change in (("slow", False), ("fast", True)):
        m = create_model("whispernet_v2", pathways=pathways).eval()
        with torch.no_grad():
            changed = not torch.allclose(m({"video": x}), m({"video": y}), atol=1e-6)
        assert changed == should_change, pathways
