"""Lip + voice: audio in batches, the voice and early-fusion models, late fusion of scores."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lipauth.features.batching import to_batch
from lipauth.clip import ClipMeta, LipClip
from lipauth.features.mfcc import video_aligned_features
from lipauth.errors import InvalidInputError
from lipauth.eval.fusion import late_fusion
from lipauth.measure.metrics import eer
from lipauth.models.registry import create_model


def _clip(n: int, seed: int = 0) -> LipClip:
    rng = np.random.default_rng(seed)
    feats = rng.normal(size=(2 * n - 1, 26)).astype(np.float32)
    return LipClip(frames=rng.integers(0, 255, (n, 18, 30), dtype=np.uint8), meta=ClipMeta(f"c{seed}", speaker="s"), fps=25.0, audio_features=feats, audio_features_rate=50.0)


def test_batches_carry_the_audio_of_the_same_frames():
    clip = _clip(30)
    full = video_aligned_features(clip, cmvn=False).reshape(59, -1)
    b = to_batch([clip], length=10, rng=np.random.default_rng(3), audio=True)
    assert b["audio"].shape == (1, 39, 19)
    # find the temporal crop the batch took from its video and check the audio matches it
    frames = (clip.frames.astype(np.float32) / 255.0 - 0.45) / 0.25
    start = next(s for s in range(21) if np.allclose(b["video"][0, 0].numpy(), frames[s : s + 10]))
    np.testing.assert_allclose(b["audio"][0].numpy().T, full[2 * start : 2 * start + 19])
    short = to_batch([_clip(6)], length=10, audio=True)  # padded clips repeat the last audio frame
    assert short["audio"].shape == (1, 39, 19) and torch.equal(short["audio"][0, :, -1], short["audio"][0, :, 11])


@pytest.mark.parametrize("name", ["voice", "lip_voice"])
def test_voice_models_embed_and_learn(name):
    torch.manual_seed(0)
    model = create_model(name, width=30, height=18, channels=1)
    assert model.uses_audio
    batch = to_batch([_clip(24, s) for s in range(6)], length=24, audio=True)
    emb = model(batch)
    assert emb.shape == (6, 128) and torch.allclose(emb.norm(dim=1), torch.ones(6), atol=1e-5)
    emb.sum().backward()
    voice = model if name == "voice" else model.voice
    assert voice.frames[0][0].weight.grad.abs().sum() > 0
    if name == "lip_voice":
        assert model.lip.head[1].weight.grad.abs().sum() > 0  # the lip trunk learns through the joint layer


def test_voice_model_settings_are_checked():
    with pytest.raises(InvalidInputError, match="bad settings"):
        create_model("voice", hiden=64)


def test_late_fusion_sums_the_scores_of_the_same_trials_read_from_score_files(tmp_path):
    from lipauth.eval.scores import ScoreList

    rng = np.random.default_rng(0)
    g = np.array([True] * 50 + [False] * 200)
    a = np.array([f"s{i % 5}" for i in range(250)], dtype=object)
    b = np.array([f"s{(i + (0 if i < 50 else 1)) % 5}" for i in range(250)], dtype=object)
    probe = np.array([f"p{i}@e{i}" for i in range(250)], dtype=object)
    lip = rng.normal(size=250) + 1.5 * g
    voice = rng.normal(size=250) + 1.5 * g
    for name, s, order in (("lip", lip, np.arange(250)), ("voice", voice, rng.permutation(250))):
        (tmp_path / name).mkdir()
        ScoreList(a[order], b[order], probe[order], s[order]).write(tmp_path / name / "scores.csv")  # trials in another order: matched by probe id
    r = late_fusion([tmp_path / "lip", tmp_path / "voice"])["text_independent"]
    assert r.eer == pytest.approx(eer((np.round(lip, 6) + np.round(voice, 6)) / 2, g)[0])
    assert r.eer < min(eer(lip, g)[0], eer(voice, g)[0])  # independent evidence adds up
    assert r.n_genuine == 50 and r.n_impostor == 200 and r.eer_ci95 is not None
    (tmp_path / "other").mkdir()
    ScoreList(a, b, np.array([f"q{i}" for i in range(250)], dtype=object), lip).write(tmp_path / "other" / "scores.csv")
    with pytest.raises(InvalidInputError, match="differ"):
        late_fusion([tmp_path / "lip", tmp_path / "other"])
    with pytest.raises(InvalidInputError):
        late_fusion([tmp_path / "lip"])
