import numpy as np
import pytest
import torch

from lipauth.errors import InvalidInputError
from lipauth.scoring.whitening import Whitening
from lipauth.models.embedder import LipEmbedder
from lipauth.models.registry import create_model
from lipauth.clip import CropSpec


def test_whitening_makes_training_data_white():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 8)) @ rng.normal(size=(8, 8)) + 3.0  # correlated, off-centre
    w = Whitening.fit(x, n_components=8)
    z = (x - w.mean) @ w.projection
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(np.cov(z, rowvar=False), np.eye(8), atol=1e-3)
    out = w.transform(x)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1, atol=1e-5)


def test_whitening_drops_empty_directions():
    rng = np.random.default_rng(1)
    x = np.c_[rng.normal(size=(100, 3)), np.zeros((100, 2))]  # rank 3
    assert Whitening.fit(x, n_components=10).projection.shape == (5, 3)
    with pytest.raises(InvalidInputError):
        Whitening.fit(x[:2])


def test_whitening_lets_small_differences_count():
    """Two clusters that differ only along a low-variance axis: raw cosine cannot tell them
    apart, whitened cosine can."""
    rng = np.random.default_rng(2)
    base = np.array([10.0, 0.0, 0.0])
    a = base + rng.normal(0, [3.0, 0.05, 0.05], (50, 3)) + [0, 0.3, 0]
    b = base + rng.normal(0, [3.0, 0.05, 0.05], (50, 3)) - [0, 0.3, 0]
    w = Whitening.fit(np.r_[a, b])
    cos = lambda u, v: (u / np.linalg.norm(u)) @ (v / np.linalg.norm(v))  # noqa: E731
    za, zb = w.transform(a), w.transform(b)
    assert cos(a[0], b[0]) > 0.95  # raw: everything looks alike
    assert za[0] @ zb[0] < za[0] @ za[1]


def test_backend_roundtrips_through_the_model_file(tmp_path):
    torch.manual_seed(0)
    emb = LipEmbedder(model=create_model("whispernet_v2").eval(), model_name="whispernet_v2", model_config={}, crop=CropSpec())
    rng = np.random.default_rng(3)
    emb.backend_scoring = Whitening.fit(rng.normal(size=(40, 128)), n_components=16)
    back = LipEmbedder.load(emb.save(tmp_path / "m.pt"))
    np.testing.assert_array_equal(back.backend_scoring.projection, emb.backend_scoring.projection)
    from lipauth.clip import ClipMeta, LipClip

    clips = [LipClip(frames=rng.integers(0, 255, (14, 18, 30), dtype=np.uint8), meta=ClipMeta(clip_id=str(i)), fps=25.0) for i in range(3)]
    out = back.embed_clips(clips)
    assert out.shape == (3, 16)
    np.testing.assert_allclose(out, emb.embed_clips(clips), atol=1e-5)
    np.testing.assert_allclose(out, emb.backend_scoring.transform(emb.network_embeddings(clips)), atol=1e-5)


def _member(seed: int, n_components: int | None, rng) -> LipEmbedder:
    torch.manual_seed(seed)
    cfg = {"embedding_dim": 32, "slow_channels": [8, 16, 32]}
    emb = LipEmbedder(model=create_model("whispernet_v2", **cfg).eval(), model_name="whispernet_v2", model_config=cfg, crop=CropSpec())
    if n_components:
        emb.backend_scoring = Whitening.fit(rng.normal(size=(60, 32)), n_components=n_components)
    return emb


def test_ensemble_cosine_is_the_mean_of_the_members_cosines(tmp_path):
    """The ensemble is score averaging behind one embedding: each member's cosine counts
    1/M, whether or not that member has a whitening backend; it survives the model file."""
    from lipauth.clip import ClipMeta, LipClip
    from lipauth.models.ensemble import ensemble_of

    rng = np.random.default_rng(4)
    members = [_member(0, 16, rng), _member(1, 8, rng), _member(2, None, rng)]
    ens = LipEmbedder.load(ensemble_of(members).save(tmp_path / "ens.pt"))
    assert ens.model_name == "ensemble" and len(ens.model.members) == 3
    clips = [LipClip(frames=rng.integers(0, 255, (14, 18, 30), dtype=np.uint8), meta=ClipMeta(clip_id=str(i)), fps=25.0) for i in range(5)]
    e = ens.embed_clips(clips)
    assert e.shape == (5, 16 + 8 + 32)
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1, atol=1e-5)
    each = [m.embed_clips(clips) for m in members]
    np.testing.assert_allclose(e @ e.T, np.mean([x @ x.T for x in each], axis=0), atol=1e-5)


def test_ensemble_members_must_share_preprocessing():
    from lipauth.models.ensemble import ensemble_of

    rng = np.random.default_rng(5)
    a, b = _member(0, 8, rng), _member(1, 8, rng)
    b.crop = CropSpec(width=40, height=24)
    with pytest.raises(InvalidInputError, match="preprocessing"):
        ensemble_of([a, b])
