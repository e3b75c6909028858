"""What users of verification toolkits reach for first: compare two videos, export
embeddings, score a trial list (against videos or enrolled users) in one process, and
calibrate thresholds on their own labelled recordings."""

import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from lipauth.cli import app
from tests.conftest import need

runner = CliRunner()


@pytest.fixture(scope="module")
def model(lip_model_file):
    from lipauth.api import load_model

    return load_model(lip_model_file)


@pytest.fixture(scope="module")
def s2():
    return sorted(need("grid-s2/video").glob("*.mpg"))


@pytest.fixture(autouse=True)
def no_env_key(monkeypatch):
    monkeypatch.delenv("LIPAUTH_STORE_KEY", raising=False)


def test_compare_scores_the_two_clips(model, s2, lip_model_file):
    res = runner.invoke(app, ["compare", str(s2[0]), str(s2[1]), "--model", str(lip_model_file), "--json"])
    d = json.loads(res.output)
    want = float(model.embed(s2[0]) @ model.embed(s2[1]))
    assert d["score"] == pytest.approx(want, abs=1e-5)
    assert d["threshold"] == pytest.approx(model.embedder.thresholds["eer"])
    assert d["accepted"] and res.exit_code == 0 and d["fused"] == ["lips", "voice", "face"]  # the bundled model fuses by default
    from lipauth.auth.decision import Decision

    assert d.keys() == Decision("u", 0.0, 0.0, False).to_dict().keys() and d["user"] == str(s2[0]) and d["probe"] == str(s2[1])
    res = runner.invoke(app, ["compare", str(s2[0]), str(s2[1]), "--model", str(lip_model_file), "--operating-point", "1.01"])
    assert res.exit_code == 1 and "DIFFERENT" in res.output


def test_compare_with_liveness_runs_the_checks_on_both_videos(s2, lip_model_file):
    res = runner.invoke(app, ["compare", str(s2[0]), str(s2[1]), "--model", str(lip_model_file), "--liveness", "--json"])
    d = json.loads(res.output)
    on = {(c["name"], c["extra"]["video"]) for c in d["checks"]}
    assert on == {(n, str(v)) for n in ("av_sync", "face_liveness", "motion") for v in s2[:2]}


def test_embed_writes_every_embedding_and_records_failures(model, s2, tmp_path, lip_model_file):
    junk = tmp_path / "junk.mp4"
    junk.write_text("not a video")
    out = tmp_path / "e.npz"
    res = runner.invoke(app, ["embed", str(s2[0]), str(junk), str(s2[2]), "--out", str(out), "--model", str(lip_model_file)])
    assert res.exit_code == 0 and "1 failed" in res.output, res.output
    z = np.load(out)
    assert list(z["paths"]) == [str(s2[0]), str(s2[2])] and str(z["model_id"]) == model.id
    np.testing.assert_allclose(z["embeddings"], model.embed_many([s2[0], s2[2]]), atol=1e-5)
    assert list(z["failed_paths"]) == [str(junk)] and "unreadable_video" in z["failed_reasons"][0]


def test_embed_writes_every_modality_to_npz_and_json_lines(model, s2, tmp_path, lip_model_file):
    from lipauth.encoders.face import FaceEncoder

    out = tmp_path / "all.npz"
    res = runner.invoke(app, ["embed", str(s2[0]), str(s2[1]), "--out", str(out), "--modalities", "lips,voice,face"])
    assert res.exit_code == 0 and "voice 2, face 2" in res.output, res.output
    z = np.load(out)
    assert z["embeddings"].shape[0] == 2 and z["voice"].shape == (2, 256) and z["face"].shape == (2, 128)
    np.testing.assert_allclose(z["embeddings"][0], model.embed(s2[0]), atol=1e-5)
    np.testing.assert_allclose(z["face"][0], FaceEncoder().embed(model.clip(s2[0], face_chips=1)), atol=1e-5)
    res = runner.invoke(app, ["embed", str(s2[0]), "--out", "-", "--modalities", "lips,face"])
    row = json.loads(res.output.strip().splitlines()[-1])
    assert res.exit_code == 0 and row["path"] == str(s2[0]) and set(row) == {"path", "model_id", "lips", "face"}
    np.testing.assert_allclose(row["face"], z["face"][0], atol=1e-5)


def test_score_a_trial_list_against_videos_and_against_enrolled_users(model, s2, tmp_path, lip_model_file):
    """score decides as compare (against videos) and verify (against a store) do, and writes
    the 4-column score file evaluate writes, which ScoreList reads back."""
    from lipauth.auth.audit import AuditLog
    from lipauth.auth.compare import compare
    from lipauth.auth.store import TemplateStore
    from lipauth.eval.scores import ScoreList

    other = need("grid-sample/bbaf2n.mpg")
    trials = tmp_path / "trials.txt"
    trials.write_text(f"# enrol probe label\n{s2[0]} {s2[1]} target\n{s2[0]} {other} nontarget\n{s2[0]} {tmp_path / 'gone.mpg'} nontarget\n")
    out = tmp_path / "scores.txt"
    res = runner.invoke(app, ["score", "--trials", str(trials), "--out", str(out), "--model", str(lip_model_file)])
    assert res.exit_code == 0 and "2 of 3 trials scored" in res.output and "EER" in res.output and "1 target / 1 nontarget" in res.output, res.output
    text = out.read_text()
    assert text.startswith("# lipauth score: model") and "deciding on lips+voice+face" in text and "# not scored:" in text and "no such file" in text
    back = ScoreList.read(out)  # comments skipped
    assert list(back.claimed) == [str(s2[0])] * 2 and list(back.real) == [str(s2[0]), "nontarget"] and list(back.genuine) == [True, False]
    want = compare(model, s2[0], s2[1])
    assert back.scores[0] == pytest.approx(want.llr, abs=1e-4) and back.scores[0] > back.scores[1]

    db = str(tmp_path / "t.db")
    assert runner.invoke(app, ["enroll", "s2", *map(str, s2[:3]), "--store", db, "--model", str(lip_model_file)]).exit_code == 0
    trials.write_text(f"s2 {s2[5]}\ns2 {other}\nnobody {s2[5]}\n")
    res = runner.invoke(app, ["score", "--trials", str(trials), "--out", str(out), "--store", db, "--model", str(lip_model_file)])
    assert res.exit_code == 0 and "2 of 3 trials scored" in res.output, res.output
    back = ScoreList.read(out)
    verify = json.loads(runner.invoke(app, ["verify", "s2", str(s2[5]), "--store", db, "--model", str(lip_model_file), "--json"]).output)
    assert back.scores[0] == pytest.approx(verify["llr"], abs=1e-4) and list(back.real) == ["unknown", "unknown"] and back.scores[0] > back.scores[1]
    assert "no user 'nobody'" in out.read_text()
    rows = AuditLog(TemplateStore(db)).entries(event="verify")
    assert len(rows) == 4  # the batch's three verifies and the CLI's one, each audited


@pytest.mark.parametrize("content, message", [("a.mp4\n", ":1: expected"), ("a.mp4 b.mp4 maybe\n", ":1: expected"), ("a b target\nc d\n", "label every trial or none"), ("# nothing\n", "no trials")])
def test_bad_trial_lists_fail_before_any_model_loads(tmp_path, monkeypatch, content, message):
    import lipauth.api

    monkeypatch.setattr(lipauth.api, "load_model", lambda *a, **k: pytest.fail("a model was loaded"))
    trials = tmp_path / "t.txt"
    trials.write_text(content)
    res = runner.invoke(app, ["score", "--trials", str(trials), "--out", str(tmp_path / "o.csv")])
    assert res.exit_code == 2 and message in res.output, res.output


def test_calibrate_refits_thresholds_on_the_users_recordings(model, tmp_path, lip_model_file):
    from lipauth.api import load_model
    from lipauth.corpora.base import get_corpus
    from lipauth.scoring.calibration import calibrate_verification
    from lipauth.scoring.fusion import ScoreFusion

    data = tmp_path / "mine"
    for person, folder, pattern in (("s1", "grid-s1/video", "*.mpg"), ("s2", "grid-s2/video", "*.mpg"), ("c1001", "crema-d-sample", "*.flv")):
        (data / person).mkdir(parents=True)
        for p in sorted(need(folder).glob(pattern))[:3]:
            shutil.copy(p, data / person / p.name)
    out = tmp_path / "mine.pt"
    res = runner.invoke(app, ["calibrate", str(data), "--out", str(out), "--model", str(lip_model_file)])
    assert res.exit_code == 0, res.output
    assert "3 people, 9 clips (9 genuine / 27 impostor clip pairs)" in res.output and "fmr_1pct rests on 27 impostor pairs" in res.output
    calibrated = res.output
    new = load_model(out)
    clips = [model.pipeline.process(i.path, i.meta) for i in get_corpus("folder").items(data)]
    emb = model.embedder.embed_clips(clips)
    want = calibrate_verification(emb, clips)
    for k in ("eer", "fmr_1pct"):
        assert new.embedder.verify_thresholds[k] == pytest.approx(want[k])
    assert new.embedder.verify_thresholds["scoring"] == model.embedder.verify_thresholds["scoring"]
    np.testing.assert_allclose(new.embedder.embed_clips(clips[:2]), emb[:2], atol=1e-6)  # same network
    assert new.embedder.info["recalibrated"]["from_model"] == model.id
    # the same network keeps its users: one enrolled with the old file verifies with the new
    assert new.id == model.id and new.ids >= {model.id}
    db = str(tmp_path / "t.db")
    s2 = sorted(need("grid-s2/video").glob("*.mpg"))
    assert runner.invoke(app, ["enroll", "s2", *map(str, s2[3:6]), "--store", db, "--model", str(lip_model_file)]).exit_code == 0
    res = runner.invoke(app, ["verify", "s2", str(s2[7]), "--store", db, "--model", str(out), "--json"])
    assert res.exit_code == 0 and json.loads(res.output)["accepted"] is True, res.output
    # the fused decision's thresholds are refitted on the same recordings
    assert "the fused decision (lips + voice + face)" in calibrated
    old_rule = ScoreFusion.from_dict(model.embedder.fusion).rule_for(("lips", "voice", "face"))
    new_rule = ScoreFusion.from_dict(new.embedder.fusion).rule_for(("lips", "voice", "face"))
    assert new_rule.weights == old_rule.weights and new_rule.thresholds != old_rule.thresholds
    res = runner.invoke(app, ["calibrate", str(data), "--out", str(out), "--model", str(lip_model_file)])
    assert res.exit_code == 2 and "exists" in res.output



def test_calibrate_needs_two_people(tmp_path, lip_model_file):
    data = tmp_path / "one"
    (data / "s2").mkdir(parents=True)
    for p in sorted(need("grid-s2/video").glob("*.mpg"))[:2]:
        shutil.copy(p, data / "s2" / p.name)
    res = runner.invoke(app, ["calibrate", str(data), "--out", str(tmp_path / "m.pt"), "--model", str(lip_model_file)])
    assert res.exit_code == 2 and "at least 2 people" in res.output


def test_verify_files_and_find_from_python(s2, tmp_path):
    """The one-call Python faces: two videos give a Decision; a folder of people (sub-folders
    of videos, or single videos) is ranked for a probe without a store."""
    import shutil

    import lipauth

    same = lipauth.verify_files(s2[0], s2[1])
    other = lipauth.verify_files(s2[0], need("grid-sample/bbaf2n.mpg"))
    assert isinstance(same, lipauth.Decision) and same.accepted and same.fused == ["lips", "voice", "face"] and same.llr >= same.llr_threshold
    assert not other.accepted and other.llr < other.llr_threshold and other.modality_scores["face"] < same.modality_scores["face"]
    people = tmp_path / "people"
    (people / "s2").mkdir(parents=True)
    for p in s2[:2]:
        shutil.copy(p, people / "s2" / p.name)
    shutil.copy(need("grid-sample/bbaf2n.mpg"), people / "s1.mpg")
    shutil.copy(need("talking-faces/hdtf_obama.mp4"), people / "obama.mp4")
    (people / "notes.txt").write_text("not a video")
    ranked = lipauth.find(s2[5], people)
    assert [d.user for d in ranked][0] == "s2" and ranked[0].accepted and not any(d.accepted for d in ranked[1:])
    assert {d.user for d in ranked} == {"s2", "s1", "obama"}
    another_s1 = sorted(need("grid-s1/video").glob("*.mpg"))[5]  # s1 saying something else
    assert [d.user for d in lipauth.find(another_s1, people, k=1)] == ["s1"]
    from lipauth.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="no such folder"):
        lipauth.find(s2[5], tmp_path / "missing")
