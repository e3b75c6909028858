"""`lipauth crossval` on the real AVLetters clips, with the fast PCA baseline."""

import json
from itertools import combinations

import pytest
from typer.testing import CliRunner

from lipauth.cli import app
from lipauth.corpora.dataset import Dataset
from lipauth.errors import InvalidInputError
from tests.conftest import need

runner = CliRunner()


def test_crossval_tests_every_speaker_once_and_pools_the_folds(tmp_path):
    out = tmp_path / "cv"
    res = runner.invoke(app, ["crossval", "--config", "configs/baseline_pca_avletters.yaml", "--data", str(need("avletters")), "--corpus", "avletters", "--folds", "3", "--out", str(out)])
    assert res.exit_code == 0, res.output
    r = json.loads((out / "crossval.json").read_text())
    tested = [s for f in r["folds"] for s in f["test_speakers"]]
    assert sorted(tested) == sorted(r["speakers"]) and len(tested) == 7
    for kind in ("text_independent", "text_dependent"):
        assert r[f"n_genuine_{kind}"] == sum(f[f"n_genuine_{kind}"] for f in r["folds"])
        assert r[f"n_impostor_{kind}"] == sum(f[f"n_impostor_{kind}"] for f in r["folds"])
        lo, hi = r[f"eer_{kind}_ci95"]
        assert lo <= r[f"eer_{kind}"] <= hi
    # every speaker's 78 clips give C(78, 2) genuine pairs, whichever fold tests them
    assert r["n_genuine_text_independent"] == 7 * 78 * 77 // 2
    assert (out / "fold0" / "eval" / "det.png").exists()
    # the pooled figures come from the folds' score files, and the pooled trials are a score file
    from lipauth.eval.scores import ScoreList
    from lipauth.measure.metrics import eer

    pooled = ScoreList.read(out / "scores.csv")
    folds = [ScoreList.read(out / f"fold{i}" / "eval" / "scores.csv") for i in range(3)]
    assert len(pooled) == sum(len(f) for f in folds) == r["n_genuine_text_independent"] + r["n_impostor_text_independent"]
    assert eer(pooled.scores, pooled.genuine)[0] == pytest.approx(r["eer_text_independent"])


def test_crossval_needs_two_test_speakers_per_fold(tmp_path):
    res = runner.invoke(app, ["crossval", "--config", "configs/baseline_pca_avletters.yaml", "--data", str(need("avletters")), "--corpus", "avletters", "--folds", "4", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "k-fold" in res.output


def test_crossval_seed_changes_the_training_not_the_folds(tmp_path):
    """`--seed S` reruns training with another seed on the same speaker folds (the split's
    seed), so that runs with different seeds measure training variance, not fold luck."""
    folds = []
    for seed in ("0", "5"):
        out = tmp_path / f"cv{seed}"
        args = ["crossval", "--config", "configs/baseline_pca_avletters.yaml", "--data", str(need("avletters")), "--corpus", "avletters", "--out", str(out), "--seed", seed]
        res = runner.invoke(app, args)
        assert res.exit_code == 0, res.output
        folds.append([f["test_speakers"] for f in json.loads((out / "crossval.json").read_text())["folds"]])
    assert folds[0] == folds[1]


def test_leave_two_speakers_out_tests_every_pair_once():
    from lipauth.protocol import leave_out_speakers

    speakers = ["a", "b", "c", "d", "e", "f", "g"]
    splits = leave_out_speakers(speakers, p=2, n_val=1)
    assert sorted(s.test for s in splits) == sorted(combinations(speakers, 2))
    for s in splits:
        assert len(s.val) == 1 and sorted(s.train + s.val + s.test) == speakers
        assert not set(s.test) & set(s.train + s.val)
    with pytest.raises(InvalidInputError):
        leave_out_speakers(speakers[:3], p=2, n_val=1)  # nobody left to train on


def test_crossval_leave_two_out_pools_every_pair(tmp_path):
    from lipauth.corpora.dataset import load_dataset
    from lipauth.training.config import load_config
    from lipauth.training.crossval import crossval
    from lipauth.clip import CropSpec

    ds = load_dataset(need("avletters"), "avletters", CropSpec(30, 18))
    four = Dataset([c for c in ds.clips if c.meta.speaker in ("Anya", "Bill", "John", "Kate")])
    r = crossval(load_config("configs/baseline_pca_avletters.yaml"), four, tmp_path, folds=3, leave_out=2, progress=False)
    assert r.n_folds == 6 and sorted(tuple(f.test_speakers) for f in r.folds) == sorted(combinations(["Anya", "Bill", "John", "Kate"], 2))
    # each speaker is tested in 3 folds; each fold's impostor pairs are its two speakers' clips
    ti = r.pooled["text_independent"]
    assert ti.n_genuine == 3 * 4 * 78 * 77 // 2 and ti.n_impostor == 6 * 78 * 78
    assert ti.n_genuine == sum(f.trials["text_independent"].n_genuine for f in r.folds)


def test_ensemble_option_overrides_the_recipe():
    """The recommended recipe trains 3 networks; `--ensemble 1` (train and crossval) asks for one."""
    from lipauth.cli import _overrides
    from lipauth.training.config import load_config

    recipe = "configs/whispernet_v2_avletters.yaml"
    assert load_config(recipe).train.ensemble == 3
    one = load_config(recipe, _overrides(None, 4, 1))
    assert one.train.ensemble == 1 and one.seed == 4 and one.train.epochs == load_config(recipe).train.epochs
