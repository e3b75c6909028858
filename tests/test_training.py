"""Training on the real AVLetters clips: a short run must lower the validation EER; the run
folder must hold what it promises; resume and DDP must work."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from lipauth.corpora.dataset import load_dataset
from lipauth.protocol import Split, make_trials
from lipauth.measure.metrics import eer
from lipauth.models.embedder import LipEmbedder
from lipauth.models.registry import create_model
from lipauth.training.config import load_config
from lipauth.training.trainer import train
from lipauth.clip import CropSpec
from tests.conftest import need

SPLIT = Split(train=("Anya", "Bill", "Kate", "Steve", "Verity"), val=("John", "Nicola"), test=())
QUICK = {"train": {"epochs": 4, "miner": "none", "patience": 99}, "seed": 0}


@pytest.fixture(scope="module")
def avletters():
    return load_dataset(need("avletters"), "avletters", CropSpec())


def _val_eer(embedder, clips):
    emb = embedder.embed_clips(clips)
    t = make_trials([c.meta for c in clips], "text_independent")
    return eer(np.sum(emb[t.a] * emb[t.b], axis=1), t.genuine)[0]


@pytest.mark.slow
def test_short_training_lowers_validation_eer(tmp_path, avletters):
    cfg = load_config(None, QUICK)
    torch.manual_seed(0)
    untrained = LipEmbedder(model=create_model("whispernet_v2").eval(), model_name="whispernet_v2", model_config={}, crop=CropSpec())
    val = avletters.of_speakers(SPLIT.val)
    before = _val_eer(untrained, val)
    summary = train(cfg, avletters, tmp_path, split=SPLIT, progress=False)
    model = LipEmbedder.load(tmp_path / "model.pt")
    after = _val_eer(model, val)
    assert after < before - 0.05, f"validation EER {before:.3f} -> {after:.3f}"
    assert after == pytest.approx(summary["best_val_eer"], abs=1e-6)

    # the run folder holds what it promises
    log = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log] == [0, 1, 2, 3] and all("val_eer" in r and "loss" in r for r in log)
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["split"]["val"] == ["John", "Nicola"] and len(run["git_commit"]) >= 7
    assert yaml.safe_load((tmp_path / "config.yaml").read_text())["train"]["epochs"] == 4
    # the model file is self-contained and carries thresholds calibrated on validation
    assert model.crop == CropSpec() and model.model_name == "whispernet_v2"
    assert model.thresholds["fmr_1pct"] >= model.thresholds["eer"] - 1e-9
    assert model.calibration["a"] > 0
    assert model.info["calibrated_on"] == "validation speakers"


@pytest.mark.slow
def test_refit_trains_again_on_validation_speakers(tmp_path, avletters):
    """With train.refit the validation speakers choose the epoch, then join training: the
    final model is a new network trained for that many epochs on all 7 speakers, and it
    carries the thresholds calibrated while they were still unseen."""
    cfg = load_config(None, {**QUICK, "train": {**QUICK["train"], "epochs": 2, "refit": True}})
    summary = train(cfg, avletters, tmp_path, split=SPLIT, progress=False)
    log = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    refit = [r for r in log if r.get("phase") == "refit"]
    assert [r["epoch"] for r in refit] == list(range(summary["best_epoch"] + 1))
    assert summary["refit"]["speakers"] == sorted(SPLIT.train + SPLIT.val)
    final, validated = LipEmbedder.load(tmp_path / "model.pt"), LipEmbedder.load(tmp_path / "validated_model.pt")
    assert final.thresholds == validated.thresholds and final.info["refit"]["epochs"] == summary["best_epoch"] + 1
    w_final, w_val = final.model.state_dict(), validated.model.state_dict()
    assert any(not torch.equal(w_final[k], w_val[k]) for k in w_final), "the refit model is the validated one"
    # the final model's backend is fitted on all 7 speakers, the validated one's on the 5
    everyone = avletters.of_speakers(SPLIT.train + SPLIT.val)
    np.testing.assert_allclose(final.backend_scoring.mean, final.network_embeddings(everyone).mean(axis=0), atol=1e-5)
    np.testing.assert_allclose(validated.backend_scoring.mean, validated.network_embeddings(avletters.of_speakers(SPLIT.train)).mean(axis=0), atol=1e-5)


@pytest.mark.slow
def test_ensemble_trains_members_from_successive_seeds(tmp_path, avletters):
    """train.ensemble = 2 with refit: two members train (seeds 0 and 1) and refit; model.pt
    scores as the mean of their cosines, with thresholds from the validated members."""
    cfg = load_config(None, {**QUICK, "train": {**QUICK["train"], "epochs": 1, "refit": True, "ensemble": 2}})
    summary = train(cfg, avletters, tmp_path, split=SPLIT, progress=False)
    assert summary["ensemble"]["seeds"] == [0, 1] and summary["refit"]["epochs"] == [1, 1]
    members = [LipEmbedder.load(tmp_path / f"member{i}" / "model.pt") for i in range(2)]
    assert [m.info["seed"] for m in members] == [0, 1]
    final, validated = LipEmbedder.load(tmp_path / "model.pt"), LipEmbedder.load(tmp_path / "validated_model.pt")
    assert final.model_name == validated.model_name == "ensemble"
    assert final.thresholds == validated.thresholds and (tmp_path / "config.yaml").exists()
    assert not (tmp_path / "metrics.jsonl").exists() and (tmp_path / "member1" / "metrics.jsonl").exists()
    val = avletters.of_speakers(SPLIT.val)[::10]
    e = final.embed_clips(val)
    np.testing.assert_allclose(e @ e.T, np.mean([x @ x.T for x in (m.embed_clips(val) for m in members)], axis=0), atol=1e-5)


@pytest.mark.slow
def test_resume_continues_where_it_stopped(tmp_path, avletters):
    cfg = load_config(None, {**QUICK, "train": {**QUICK["train"], "epochs": 2}})
    train(cfg, avletters, tmp_path, split=SPLIT, progress=False)
    cfg.train.epochs = 3
    train(cfg, avletters, tmp_path, split=SPLIT, resume=True, progress=False)
    epochs = [json.loads(line)["epoch"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert epochs == [0, 1, 2]


def test_landmark_model_on_a_corpus_without_landmarks_is_refused(tmp_path, avletters):
    from lipauth.errors import InvalidInputError

    cfg = load_config(None, {"model": {"name": "whispernet_v1"}, "train": {"epochs": 1}})
    with pytest.raises(InvalidInputError, match="use_landmarks"):
        train(cfg, avletters, tmp_path, split=SPLIT, progress=False)


def test_config_rejects_unknown_settings(tmp_path):
    from lipauth.errors import InvalidInputError

    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  epoch: 3\n")
    with pytest.raises(InvalidInputError, match="unknown setting train.epoch"):
        load_config(bad)


@pytest.mark.slow
def test_ddp_with_two_processes(tmp_path):
    """torchrun, 2 processes, gloo: both ranks train, then refit, and rank 0 writes one model."""
    need("avletters")
    cfg = tmp_path / "ddp.yaml"
    cfg.write_text(yaml.safe_dump({"train": {"epochs": 1, "miner": "none", "P": 4, "K": 4, "refit": True}, "split": {"val_speakers": 2}}))
    out = tmp_path / "run"
    torchrun = Path(sys.executable).with_name("torchrun")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = subprocess.run(
        [str(torchrun), "--standalone", "--nproc_per_node", "2", "-m", "lipauth.cli", "train", "--config", str(cfg), "--data", str(need("avletters")), "--corpus", "avletters", "--out", str(out)],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert (out / "model.pt").exists()
    log = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r.get("phase", "train") for r in log] == ["train", "refit"]  # written once each, by rank 0
    assert len(LipEmbedder.load(out / "model.pt").info["refit"]["speakers"]) == 7


def test_verification_thresholds_with_few_clips():
    """Calibration data with 2 clips per speaker still calibrates (enrolling from 1 clip);
    with 1 clip per speaker it returns nothing rather than failing."""
    from lipauth.clip import ClipMeta, LipClip
    from lipauth.scoring.calibration import calibrate_verification

    torch.manual_seed(0)
    emb = LipEmbedder(model=create_model("whispernet_v2").eval(), model_name="whispernet_v2", model_config={}, crop=CropSpec())
    rng = np.random.default_rng(0)
    clips = [LipClip(frames=rng.integers(0, 255, (12, 18, 30), dtype=np.uint8), meta=ClipMeta(clip_id=f"{s}{i}", speaker=s), fps=25.0) for s in "ab" for i in range(2)]
    e = emb.embed_clips(clips)
    t = calibrate_verification(e, clips)
    assert t["n_enrol"] == 1 and set(t) >= {"eer", "fmr_1pct"}
    assert calibrate_verification(e[::2], clips[::2]) == {}
