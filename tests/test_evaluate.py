"""`lipauth evaluate` and `lipauth train` through the CLI, with the interface the issue fixes."""

import csv
import json
import shutil

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from lipauth.cli import app
from lipauth.models.embedder import LipEmbedder
from tests.conftest import need

runner = CliRunner()


@pytest.fixture(scope="module")
def trained(lip_model_file):
    """The bundled model: trained on every AVLetters speaker (these tests check counts, files
    and what the report says, not accuracy)."""
    return lip_model_file


@pytest.fixture(scope="module")
def unseen(tmp_path_factory):
    """Three AVLetters speakers in a folder of their own, laid out as a user's data would be
    (Kate trained the model: these tests check counts and files, not accuracy)."""
    root = tmp_path_factory.mktemp("unseen")
    (root / "Lips").mkdir()
    (root / "Audio" / "mfcc" / "Clean").mkdir(parents=True)
    for spk in ("John", "Nicola", "Kate"):
        for mat in need("avletters/Lips").glob(f"*_{spk}-lips.mat"):
            shutil.copy(mat, root / "Lips" / mat.name)
    return root


def test_evaluate_writes_the_promised_files(tmp_path, trained, unseen):
    out = tmp_path / "eval"
    res = runner.invoke(app, ["evaluate", "--model", str(trained), "--data", str(unseen), "--corpus", "avletters", "--out", str(out), "--bootstrap", "100"])
    assert res.exit_code == 0, res.output
    m = json.loads((out / "metrics.json").read_text())
    # 3 speakers x 78 clips: C(78,2) genuine pairs each, 78*78 impostor pairs per speaker pair
    assert m["n_genuine_text_independent"] == 3 * 78 * 77 // 2
    assert m["n_impostor_text_independent"] == 3 * 78 * 78
    # text-dependent: same letter; 3 reps per speaker -> 3 genuine pairs per letter and
    # speaker, 3 x 3 impostor pairs per letter and speaker pair
    assert m["n_genuine_text_dependent"] == 26 * 3 * 3 and m["n_impostor_text_dependent"] == 26 * 3 * 9
    assert 0 <= m["eer_text_independent"] <= 1 and 0 <= m["eer_text_dependent"] <= 1
    lo, hi = m["eer_text_independent_ci95"]
    assert lo <= m["eer_text_independent"] <= hi
    for key in ("fnmr_at_fmr_1pct_text_independent", "min_dcf_p0.01_text_independent"):
        assert key in m
    # the error rates at the threshold verify uses, on probes against 3-clip templates
    assert m["decision"]["operating_point"] == "eer" and set(m["verification"]) >= {"fmr", "fnmr", "hter", "n_genuine", "n_impostor"}
    assert m["verification"]["n_enrol"] == 3 and m["verification"]["n_genuine"] == 3 * 20 * 75
    rows = list(csv.reader(open(out / "scores.csv"), delimiter=" "))
    assert len(rows) == m["n_genuine_text_independent"] + m["n_impostor_text_independent"]
    assert all(len(r) == 4 for r in rows)
    genuine = [r for r in rows if r[0] == r[1]]
    assert len(genuine) == m["n_genuine_text_independent"]
    for png in ("det.png", "roc.png", "hist.png"):
        assert (out / png).stat().st_size > 10_000
    assert "text-independent" in (out / "report.md").read_text()
    # the bundled model trained on every AVLetters speaker: the report says so
    assert m["speakers_seen_in_training"] == ["John", "Kate", "Nicola"]
    assert "Not a held-out figure" in (out / "report.md").read_text() and "Not a held-out figure" in res.output


def test_speakers_seen_in_training_come_from_the_run_record():
    from lipauth.eval.evaluate import report, speakers_seen_in_training

    assert speakers_seen_in_training({}) == set()
    info = {"split": {"train": ["A", "B"], "val": ["C"], "test": ["D"]}}
    assert speakers_seen_in_training(info) == {"A", "B", "C"}
    assert speakers_seen_in_training(info | {"refit": {"speakers": ["A", "B", "C", "E"]}}) == {"A", "B", "C", "E"}
    m = {"n_clips": 4, "n_speakers": 2, "fta_rate": 0.0}
    assert "2 unseen speakers" in report(m | {"speakers_seen_in_training": []}, "t") and "held-out" not in report(m, "t")
    assert "Not a held-out figure:** 1 of these speakers (E)" in report(m | {"speakers_seen_in_training": ["E"]}, "t")


def test_evaluate_eer_agrees_with_the_score_file(tmp_path, trained, unseen):
    """The EER evaluate reports, against one computed here from its score file with
    scikit-learn's ROC (not lipauth's eer()): equal within one trial's step."""
    from sklearn.metrics import roc_curve

    out = tmp_path / "eval"
    done = runner.invoke(app, ["evaluate", "--model", str(trained), "--data", str(unseen), "--corpus", "avletters", "--out", str(out), "--bootstrap", "0"])
    assert done.exit_code == 0, done.output
    rows = list(csv.reader(open(out / "scores.csv"), delimiter=" "))
    scores = np.array([float(r[3]) for r in rows])
    genuine = np.array([r[0] == r[1] for r in rows])
    fpr, tpr, _ = roc_curve(genuine, scores)
    i = np.argmin(np.abs(fpr - (1 - tpr)))
    step = 1 / min(genuine.sum(), (~genuine).sum())
    reported = json.loads((out / "metrics.json").read_text())["eer_text_independent"]
    assert 0 < reported < 0.5 and reported == pytest.approx((fpr[i] + 1 - tpr[i]) / 2, abs=step)


def test_evaluate_bad_inputs(tmp_path, unseen):
    bad = tmp_path / "model.pt"
    bad.write_bytes(b"not a model")
    res = runner.invoke(app, ["evaluate", "--model", str(bad), "--data", str(unseen), "--corpus", "avletters", "--out", str(tmp_path / "e")])
    assert res.exit_code == 2 and "not a lipauth model file" in res.output
    res = runner.invoke(app, ["evaluate", "--model", str(tmp_path / "none.pt"), "--data", str(unseen), "--corpus", "avletters", "--out", str(tmp_path / "e")])
    assert res.exit_code == 2 and "no such model file" in res.output


def test_two_speakers_give_no_confidence_interval(tmp_path, trained):
    two = tmp_path / "two" / "Lips"
    two.mkdir(parents=True)
    for spk in ("Kate", "Bill"):
        for mat in list(need("avletters/Lips").glob(f"*_{spk}-lips.mat"))[:10]:
            shutil.copy(mat, two / mat.name)
    res = runner.invoke(app, ["evaluate", "--model", str(trained), "--data", str(two.parent), "--corpus", "avletters", "--out", str(tmp_path / "e")])
    assert res.exit_code == 0, res.output
    m = json.loads((tmp_path / "e" / "metrics.json").read_text())
    assert "eer_text_independent_ci95" not in m and "n/a" in (tmp_path / "e" / "report.md").read_text()


def test_evaluate_with_one_speaker_says_why(tmp_path, trained):
    one = tmp_path / "one" / "Lips"
    one.mkdir(parents=True)
    for mat in list(need("avletters/Lips").glob("*_Kate-lips.mat"))[:6]:
        shutil.copy(mat, one / mat.name)
    res = runner.invoke(app, ["evaluate", "--model", str(trained), "--data", str(one.parent), "--corpus", "avletters", "--out", str(tmp_path / "e")])
    assert res.exit_code == 2 and "at least 2 speakers" in res.output


@pytest.mark.slow
def test_cremad_recipe_runs_end_to_end(tmp_path):
    """Smoke run of the CREMA-D paper recipe: real FLV videos through preprocessing, offline
    challenging triplets, training, calibration and evaluation. crema-d-sample has one actor,
    so its six clips are filed under four pseudo-actor IDs: this checks the machinery, not
    accuracy."""
    src = need("crema-d-sample")
    corpus = tmp_path / "crema"
    corpus.mkdir()
    clips = sorted(src.glob("*.flv"))
    for actor in range(4):
        for clip in clips[actor : actor + 3]:
            shutil.copy(clip, corpus / clip.name.replace("1001", str(1001 + actor)))
    recipe = yaml.safe_load(open("configs/whispernet_v2_cremad.yaml"))
    recipe["split"] = {"train_speakers": None, "val_speakers": 2, "test_speakers": 0, "seed": 0}
    recipe["train"].update(epochs=1, P=2, K=3)
    cfg = tmp_path / "smoke.yaml"
    cfg.write_text(yaml.safe_dump(recipe))
    run = tmp_path / "run"
    res = runner.invoke(app, ["train", "--config", str(cfg), "--data", str(corpus), "--corpus", "crema-d", "--out", str(run)])
    assert res.exit_code == 0, res.output
    assert len(list((run / "cache" / "clips").glob("*.npz"))) == 12
    model = LipEmbedder.load(run / "model.pt")
    assert model.crop.width == 30 and model.crop.height == 18
    res = runner.invoke(app, ["evaluate", "--model", str(run / "model.pt"), "--data", str(corpus), "--corpus", "crema-d", "--out", str(tmp_path / "eval"), "--bootstrap", "20"])
    assert res.exit_code == 0, res.output
    m = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert m["n_clips"] == 12 and m["n_speakers"] == 4 and "eer_text_dependent" in m
