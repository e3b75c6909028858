"""`lipauth train --config` trains every shipped component: the lip model, the AV-synchrony
model, the face-texture and the face-liveness models, each from a recipe YAML."""

import json

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from lipauth.cli import app
from lipauth.errors import InvalidInputError
from lipauth.recipes import read_recipe
from tests.conftest import DATA, need

runner = CliRunner()


def _write(tmp_path, recipe: dict, name="recipe.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def test_the_shipped_recipes_parse(tmp_path):
    from lipauth.recipes.pad import LivenessRecipe, SyncRecipe, TextureRecipe, parse

    sync = parse(SyncRecipe, read_recipe("configs/avsync.yaml"), "avsync.yaml")
    assert list(sync.sources) == ["avletters", "grid-s2", "crema-d-sample", "grid-sample"] and sync.threshold_from == ["crema-d-sample", "grid-sample"]
    live = parse(LivenessRecipe, read_recipe("configs/liveness.yaml"), "liveness.yaml")
    assert live.held_out == "grid-sample:" and live.train == {"epochs": 10, "ensemble": 1} and sync.train["ensemble"] == 1
    assert read_recipe("configs/default_model.yaml").get("kind", "lip_embedding") == "lip_embedding"
    texture = parse(TextureRecipe, read_recipe("configs/texture.yaml"), "texture.yaml")
    assert 0.01 in texture.c_grid and 10.0 in texture.gamma_grid and len(texture.c_grid) * len(texture.gamma_grid) == 30
    candidate = parse(SyncRecipe, read_recipe("configs/avsync-candidate.yaml"), "avsync-candidate.yaml")
    faces = candidate.sources["talking-faces"]
    roles = {p: faces.by_speaker.get(p, faces.role) for p in (f"p{i:02d}" for i in range(1, 26))}
    assert sorted(r for r in roles.values()).count("test") == 7 and sorted(roles.values()).count("val") == 7
    assert candidate.network["tolerance"] == 2 and "talking-faces" in candidate.threshold_from
    from lipauth.recipes.fusion import FusionRecipe
    from lipauth.scoring.joint import JointSettings

    late, early = (parse(FusionRecipe, read_recipe(f"configs/{n}.yaml"), n) for n in ("fusion", "fusion-early"))
    assert late.method == "calibrated" and late.balance_sessions and early.method == "early" and early.sources == late.sources
    assert JointSettings(**early.joint) == JointSettings()  # the config states the defaults it was measured with


@pytest.mark.parametrize(
    "recipe, message",
    [
        ({"kind": "voice"}, "unknown kind 'voice'"),
        ({"kind": "av_sync", "sources": {}, "threshold_from": [], "epochz": 3}, "epochz"),
        ({"kind": "av_sync", "sources": {"a": {"corpus": "grid", "path": "x", "role": "training"}}, "threshold_from": []}, "role"),
        ({"kind": "av_sync", "sources": {"a": {"corpus": "grid", "path": "x"}}, "threshold_from": ["b"]}, "threshold_from names no source"),
        ({"kind": "face_liveness", "videos": [], "held_out": "x", "train": {"epoch": 1}}, "epoch"),
        ({"kind": "face_liveness", "videos": [], "held_out": "x", "train": {"ensemble": 0}}, "ensemble must be"),
        ({"kind": "face_texture", "variant": "raw"}, "variant"),
    ],
)
def test_bad_recipes_fail_with_one_line_before_any_training(tmp_path, recipe, message):
    res = runner.invoke(app, ["train", "--config", str(_write(tmp_path, recipe)), "--data", str(tmp_path), "--out", str(tmp_path / "out")])
    assert res.exit_code == 2 and message in res.output and res.output.count("\n") == 1, res.output
    assert not (tmp_path / "out").exists()


def test_lip_recipes_still_need_a_corpus_and_others_refuse_lip_options(tmp_path):
    res = runner.invoke(app, ["train", "--config", "configs/default_model.yaml", "--data", str(tmp_path), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "--corpus is needed" in res.output
    res = runner.invoke(app, ["train", "--config", "configs/liveness.yaml", "--data", str(tmp_path), "--out", str(tmp_path / "o"), "--corpus", "grid"])
    assert res.exit_code == 2 and "lip_embedding settings" in res.output
    with pytest.raises(InvalidInputError, match="no such config"):
        read_recipe(tmp_path / "none.yaml")


def test_a_liveness_recipe_trains_through_the_cli(tmp_path):
    """A small recipe on real videos: 4 grid-sample people held out in 2 folds, grid-s2
    always training; one short epoch each. Checks the recipe's plumbing, not accuracy."""
    need("grid-sample")
    root = tmp_path / "data"
    for sub, names in (("grid-sample", ["bbaf2n.mpg", "brbk7n.mpg", "lbax4n.mpg", "lbbc2a.mpg", "lwbsza.mpg"]), ("grid-s2", None)):
        (root / sub).mkdir(parents=True)
        src = DATA / sub if names else DATA / "grid-s2" / "video"
        for p in sorted(src.glob("*.mpg"))[:2] if names is None else [src / n for n in names]:
            (root / sub / p.name).symlink_to(p)
    recipe = {
        "kind": "face_liveness",
        "train": {"epochs": 1, "steps_per_epoch": 3, "clients_per_batch": 3},
        "crops_per_video": 4,
        "videos": [{"glob": "grid-s2/*.mpg", "client": "grid-s2"}, {"glob": "grid-sample/*.mpg", "client": "grid-sample:{stem}"}],
        "same_person": {"grid-s2": ["lwbsza"]},
        "held_out": "grid-sample:",
    }
    res = runner.invoke(app, ["train", "--config", str(_write(tmp_path, recipe)), "--data", str(root), "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    from lipauth.pad.liveness import LivenessModel

    model = LivenessModel.load(tmp_path / "out" / "liveness.pt")
    assert {"eer", "midpoint", "generic_eer", "generic_midpoint"} <= set(model.thresholds)
    # lwbsza is the grid-s2 speaker: one client, never held out; 4 grid-sample clients are
    assert model.info["clients"] == ["grid-s2", "grid-sample:bbaf2n", "grid-sample:brbk7n", "grid-sample:lbax4n", "grid-sample:lbbc2a"]
    assert model.info["recipe"]["held_out"] == "grid-sample:"
    report = json.loads((tmp_path / "out" / "liveness.json").read_text())
    n = report["per client (enrolled real crops)"]
    assert n["n_bona_fide"] == 4 and n["n_attack"] == 8  # 4 held-out clients, a print and a replay each
    assert "2 folds by client over 4 grid-sample: clients" in res.output


@pytest.mark.slow
def test_an_av_sync_recipe_trains_through_the_cli(tmp_path):
    """A small recipe: two AVLetters speakers train, one validates with the CREMA-D videos,
    one tests; one epoch. Checks roles, the threshold's source and the model file."""
    need("avletters")
    recipe = {
        "kind": "av_sync",
        "train": {"epochs": 1},
        "sources": {
            "avletters": {"corpus": "avletters", "path": "avletters", "by_speaker": {"John": "train", "Nicola": "train", "Steve": "val", "Verity": "test"}},
            "crema-d-sample": {"corpus": "crema-d", "path": "crema-d-sample", "role": "val"},
        },
        "threshold_from": ["crema-d-sample"],
    }
    res = runner.invoke(app, ["train", "--config", str(_write(tmp_path, recipe)), "--data", str(DATA), "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    from lipauth.pad.avsync import SyncModel

    model = SyncModel.load(tmp_path / "out" / "avsync.pt")
    assert model.info["n_train_clips"] == 156 and model.info["n_val_clips"] == 78 + 6
    report = json.loads((tmp_path / "out" / "avsync.json").read_text())
    assert report["validation videos (crema-d-sample)"]["threshold"] == pytest.approx(model.threshold)
    assert "avletters test (78 clips, unseen speakers)" in report and np.isfinite(model.threshold)


@pytest.mark.slow
def test_a_texture_recipe_trains_through_the_cli_and_scores_the_official_test_list(tmp_path):
    """One setting (the one the shipped grid chose), so only its leave-one-person-out folds
    run: the threshold comes from the train list, the test list is scored at it."""
    need("nuaa")
    recipe = {"kind": "face_texture", "c_grid": [0.01], "gamma_grid": [10.0]}
    res = runner.invoke(app, ["train", "--config", str(_write(tmp_path, recipe)), "--data", str(DATA), "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    from lipauth.artifacts import TEXTURE_MODEL, bundled
    from lipauth.pad.texture import TextureLiveness

    model, shipped = TextureLiveness.load(tmp_path / "out" / "texture.pt"), TextureLiveness.load(bundled(TEXTURE_MODEL))
    assert model.info["folds"] == 9 and model.info["n_bona_fide"] + model.info["n_attack"] == 3490
    test = model.info["evaluation"]["test"]
    assert test["eer"] <= 0.05 and test["acer"] <= 0.07 and test["n_bona_fide"] + test["n_attack"] > 9000
    # the shipped model chose this setting from the whole grid: the same fit, the same threshold
    assert (shipped.info["C"], shipped.info["gamma"]) == (0.01, 10.0) and model.threshold == pytest.approx(shipped.threshold, abs=1e-6)
    assert (tmp_path / "out" / "texture-test-scores.png").stat().st_size > 10_000  # the test scores' histogram
