"""The lips fused with the voice and the face (lipauth.scoring.fusion, lipauth.auth.modalities):
fitted rules, templates that keep every modality, decisions that say what ran."""

import numpy as np
import pytest

from lipauth.errors import InvalidInputError
from lipauth.scoring.fusion import ScoreFusion
from lipauth.scoring.points import parse_modalities
from tests.conftest import need


def _synthetic_trials(n=400, seed=0):
    rng = np.random.default_rng(seed)
    genuine = rng.random(n) < 0.3
    scores = {m: np.where(genuine, rng.normal(mu, 0.15, n), rng.normal(0.2, 0.15, n)) for m, mu in (("lips", 0.4), ("voice", 0.5), ("face", 0.6))}
    return scores, genuine


def test_a_rule_per_set_of_modalities_with_the_lips():
    scores, genuine = _synthetic_trials()
    fusion = ScoreFusion.fit(scores, genuine)
    assert set(fusion.rules) == {("lips", "voice"), ("lips", "face"), ("lips", "voice", "face")}
    assert fusion.rule_for(("face", "lips")) is fusion.rules[("lips", "face")] and fusion.rule_for(("lips",)) is None
    both = fusion.rule_for(("lips", "voice", "face"))
    assert all(w > 0 for w in both.weights)  # each modality here separates: each weighs in favour
    llr = np.array([both.llr({m: scores[m][i] for m in scores}) for i in range(len(genuine))])
    assert llr[genuine].mean() > 2 > -2 > llr[~genuine].mean()
    # fused, the three separate better than the best of them alone
    from lipauth.measure.metrics import eer

    assert eer(llr, genuine)[0] < min(eer(scores[m], genuine)[0] for m in scores)
    # thresholds on the fused LLR, stricter for lower false-match rates
    t = both.thresholds
    assert t["eer"] <= t["fmr_1pct"] <= t["fmr_0.1pct"]
    again = ScoreFusion.from_dict(fusion.to_dict())
    assert again.rules == fusion.rules


def test_fusion_refuses_what_it_cannot_fit():
    scores, genuine = _synthetic_trials()
    with pytest.raises(InvalidInputError, match="at least one other"):
        ScoreFusion.fit({"lips": scores["lips"]}, genuine)
    with pytest.raises(InvalidInputError, match="genuine and impostor"):
        ScoreFusion.fit(scores, np.ones(len(genuine), bool))


@pytest.mark.parametrize("text, expected", [("lips", ("lips",)), ("face, lips", ("lips", "face")), ("lips,voice,face", ("lips", "voice", "face"))])
def test_modalities_parse(text, expected):
    assert parse_modalities(text) == expected


@pytest.mark.parametrize("text", ["voice,face", "lips,iris", ""])
def test_modalities_without_the_lips_or_unknown_are_refused(text):
    with pytest.raises(InvalidInputError, match="lips included"):
        parse_modalities(text)


# -- on real people -------------------------------------------------------------------------


FUSION_RECIPE = {
    "kind": "fusion",
    "sources": {
        "grid-s1": {"corpus": "grid", "path": "grid-s1", "speaker": "grid-s1", "max_clips": 5},
        "talking-faces": {"corpus": "talking-faces", "path": "talking-faces", "skip_people": ["p01"], "max_clips": 12},
    },
}


@pytest.fixture(scope="module")
def fusion_clips():
    """The lips, voice and face vectors of 5 grid-s1 clips and 12 talking-face clips (the
    fusion recipe's embedding step): none of them of a person the tests below enrol or claim
    to be (grid-s2, p01)."""
    pytest.importorskip("webrtcvad", reason="the voice encoder needs webrtcvad-wheels (a dependency of lipauth)")
    from lipauth.api import load_model
    from lipauth.recipes.fusion import FusionRecipe, embed_sources

    model = load_model()
    clips, failed = embed_sources(FusionRecipe.model_validate(FUSION_RECIPE), need("grid-s1").parent, model, "test recipe")
    return model, clips


@pytest.fixture(scope="module")
def fused_model_file(fusion_clips, tmp_path_factory):
    """The bundled lip model with score-fusion rules fitted by the recipe on fusion_clips."""
    from lipauth.recipes.fusion import FusionRecipe, save_fused

    model, clips = fusion_clips
    before = model.embedder.fusion
    path, report = save_fused(model, clips, FusionRecipe.model_validate(FUSION_RECIPE), tmp_path_factory.mktemp("fused"), "test recipe")
    assert report["people"] >= 8 and report["genuine"] >= 10
    assert "p01" not in report["table"] and model.embedder.fusion is before  # the model in memory is left as it was
    return path


@pytest.fixture(scope="module")
def fused_verifier(fused_model_file, tmp_path_factory):
    from lipauth.api import load_model
    from lipauth.auth.store import TemplateStore
    from lipauth.auth.verifier import Verifier

    verifier = Verifier(load_model(fused_model_file), TemplateStore(tmp_path_factory.mktemp("store") / "t.db", create=True))
    verifier.enroll("s2", [need("grid-s2/video/bbaf2a.mpg")])  # enrolled from one clip
    return verifier


def test_a_template_keeps_every_modality_through_the_encrypted_store(fused_verifier):
    template = fused_verifier.store.get("s2")
    assert fused_verifier.modal.modalities == ("lips", "voice", "face")
    assert template.modalities["voice"].shape == (1, 256) and template.modalities["face"].shape == (1, 128)


def test_the_fused_decision_accepts_the_person_and_refuses_another(fused_verifier):
    same = fused_verifier.verify("s2", need("grid-s2/video/bbilzs.mpg"))
    assert same.accepted and same.fused == ["lips", "voice", "face"] and not same.left_out
    assert set(same.modality_scores) == {"lips", "voice", "face"} and same.score == same.modality_scores["lips"]
    assert same.llr >= same.llr_threshold and any(r.startswith("fused lips+voice+face") for r in same.reasons)
    other = fused_verifier.verify("s2", need("talking-faces/hdtf_obama.mp4"))
    assert not other.accepted and other.llr < other.llr_threshold


def test_a_video_without_sound_leaves_the_voice_out_and_says_so(fused_verifier, tmp_path):
    from lipauth.video.decode import decode_video
    from lipauth.video.encode import write_video

    mute = write_video(tmp_path / "mute.mp4", decode_video(need("grid-s2/video/bbilzs.mpg")).frames, 25.0)
    d = fused_verifier.verify("s2", mute)
    assert d.left_out == {"voice": "no speech in the audio"} and d.fused == ["lips", "face"]
    assert d.accepted and any("voice left out" in r for r in d.reasons)


def test_the_lips_and_face_of_the_person_with_another_voice_are_refused(fused_verifier, tmp_path):
    """A dub: grid-s2's face and lips speaking with grid-s1's voice. The lips and the face
    say yes; the voice says no, and the fused decision refuses."""
    from lipauth.video.decode import decode_video
    from lipauth.video.encode import write_video

    video, voice = decode_video(need("grid-s2/video/bbilzs.mpg")), decode_video(need("grid-s1/video/bbaf2n.mpg"))
    n = min(len(video.audio), len(voice.audio))
    dub = write_video(tmp_path / "dub.mp4", video.frames, video.fps, voice.audio[:n])
    d = fused_verifier.verify("s2", dub)
    lips_alone = d.score >= d.threshold
    assert lips_alone and d.modality_scores["face"] > 0.9 and not d.accepted


def test_a_model_without_fusion_refuses_other_modalities(fused_verifier, lip_model_file, tmp_path):
    import dataclasses

    from lipauth.api import LipModel, load_model
    from lipauth.auth.verifier import Verifier

    bundled = load_model(lip_model_file)
    plain = LipModel(dataclasses.replace(bundled.embedder, fusion=None), bundled.id)  # a lip model without fusion rules
    assert Verifier(plain, fused_verifier.store).modal.modalities == ("lips",)
    with pytest.raises(InvalidInputError, match="no fusion rules for voice"):
        Verifier(plain, fused_verifier.store, modalities=("lips", "voice"))
    # a number is a threshold on the lips' cosine: it asks for the lips alone, and refuses others asked for
    assert Verifier(fused_verifier.model, fused_verifier.store, operating_point=0.7).modal.modalities == ("lips",)
    with pytest.raises(InvalidInputError, match="name an operating point"):
        Verifier(fused_verifier.model, fused_verifier.store, operating_point=0.7, modalities=("lips", "voice"))


def test_the_cli_enrols_and_verifies_with_the_modalities_it_is_given(fused_model_file, tmp_path):
    import json

    from typer.testing import CliRunner

    from lipauth.cli import app

    runner, store = CliRunner(), str(tmp_path / "cli.db")
    done = runner.invoke(app, ["enroll", "s2", str(need("grid-s2/video/bbaf2a.mpg")), "--model", str(fused_model_file), "--store", store, "--modalities", "lips,face"])
    assert done.exit_code == 0, done.output
    assert "1 clips in the template, 1 with face" in done.output
    done = runner.invoke(app, ["verify", "s2", str(need("grid-s2/video/bbilzs.mpg")), "--model", str(fused_model_file), "--store", store, "--modalities", "lips,face", "--json"])
    d = json.loads(done.output.strip().splitlines()[-1])
    assert done.exit_code == 0 and d["fused"] == ["lips", "face"] and set(d["modality_scores"]) == {"lips", "face"}
    # asked for the voice too, with a template that has none: the voice is left out, and says why
    done = runner.invoke(app, ["verify", "s2", str(need("grid-s2/video/bbilzs.mpg")), "--model", str(fused_model_file), "--store", store, "--json"])
    d = json.loads(done.output.strip().splitlines()[-1])
    assert d["left_out"] == {"voice": "not enrolled for this user"} and d["fused"] == ["lips", "face"]


def test_identify_fuses_each_candidate_and_keeps_the_open_set(fused_verifier):
    """With p01 enrolled beside grid-s2: a grid-s2 probe finds grid-s2 first and matched on
    the fused LLR, and p01 not matched; a person enrolled by nobody matches no one."""
    if "p01" not in fused_verifier.store:
        fused_verifier.enroll("p01", [need("talking-faces/hdtf_obama.mp4")])
    found = fused_verifier.identify(need("grid-s2/video/bbilzs.mpg"), k=2)
    assert [c.user for c in found] == ["s2", "p01"]
    assert found[0].accepted and found[0].fused == ["lips", "voice", "face"] and found[0].llr >= found[0].llr_threshold
    assert not found[1].accepted and found[0].to_dict()["fused"] == ["lips", "voice", "face"]
    stranger = fused_verifier.identify(need("crema-d-sample/1001_DFA_ANG_XX.flv"), k=2)
    assert not any(c.accepted for c in stranger)


def test_the_service_answers_with_every_modality(fused_verifier):
    """The service's verify carries the modality scores and what was left out."""
    from fastapi.testclient import TestClient

    from lipauth.service.app import create_app

    client = TestClient(create_app(fused_verifier, api_key="k"))
    with need("grid-s2/video/bbilzs.mpg").open("rb") as f:
        r = client.post("/v1/users/s2/verify", headers={"X-API-Key": "k"}, files={"video": ("probe.mpg", f, "video/mpeg")})
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["accepted"] and d["fused"] == ["lips", "voice", "face"] and set(d["modality_scores"]) == {"lips", "voice", "face"}


def test_adding_clips_keeps_every_modality_and_the_audit_trail_names_them(fused_model_file, tmp_path):
    from lipauth.api import load_model
    from lipauth.auth.audit import AuditLog
    from lipauth.auth.store import TemplateStore
    from lipauth.auth.verifier import Verifier

    store = TemplateStore(tmp_path / "a.db", create=True)
    verifier = Verifier(load_model(fused_model_file), store, audit=AuditLog(store))
    verifier.enroll("s2", [need("grid-s2/video/bbaf2a.mpg")])
    added = verifier.enroll("s2", [need("grid-s2/video/bbilzs.mpg")], mode="add")
    assert len(added.embeddings) == 2 and added.modalities["voice"].shape == (2, 256) and added.modalities["face"].shape == (2, 128)
    verifier.verify("s2", need("grid-s2/video/bbilzs.mpg"))
    row = verifier.audit.entries(event="verify", limit=1)[0]
    assert row.details["fused"] == ["lips", "voice", "face"] and set(row.details["modality_scores"]) == {"lips", "voice", "face"}


def test_the_cli_identifies_with_the_fused_llr(fused_model_file, tmp_path):
    from typer.testing import CliRunner

    from lipauth.cli import app

    runner, store = CliRunner(), str(tmp_path / "id.db")
    for user, clip in (("s2", "grid-s2/video/bbaf2a.mpg"), ("p01", "talking-faces/hdtf_obama.mp4")):
        assert runner.invoke(app, ["enroll", user, str(need(clip)), "--model", str(fused_model_file), "--store", store]).exit_code == 0
    done = runner.invoke(app, ["identify", str(need("grid-s2/video/bbilzs.mpg")), "--model", str(fused_model_file), "--store", store, "-k", "2"])
    assert done.exit_code == 0, done.output
    first = next(line for line in done.output.splitlines() if "│ 1 " in line)
    assert "s2" in first and "yes" in first and "fused LLR" in done.output


def test_pairs_across_sessions_teach_the_rules_what_holds_across_recordings():
    """Synthetic: the lips separate genuine pairs within a session only, the face within and
    across. Fitted with every pair alike the rule trusts the lips; with the few pairs across
    sessions weighted as much as the many within, it trusts the face, and accepts them."""
    from lipauth.scoring.fusion import session_weights

    rng = np.random.default_rng(1)
    n_same, n_cross, n_imp = 300, 6, 600
    genuine = np.r_[np.ones(n_same + n_cross, bool), np.zeros(n_imp, bool)]
    across = np.r_[np.zeros(n_same, bool), np.ones(n_cross, bool), rng.random(n_imp) < 0.5]
    lips = np.r_[rng.normal(0.8, 0.05, n_same), rng.normal(0.2, 0.05, n_cross), rng.normal(0.2, 0.1, n_imp)]
    face = np.r_[rng.normal(0.9, 0.05, n_same + n_cross), rng.normal(0.75, 0.06, n_imp)]
    scores = {"lips": lips, "face": face}
    w = session_weights(genuine, across)
    assert w[n_same:n_same + n_cross].sum() == pytest.approx(n_same) and (w[~genuine] == 1).all()
    alike, balanced = (ScoreFusion.fit(scores, genuine, weights=x).rules[("lips", "face")] for x in (None, w))
    ratio = lambda r: r.weights[0] / r.weights[1]  # noqa: E731
    assert ratio(balanced) < ratio(alike) / 2
    cross = [{"lips": lips[i], "face": face[i]} for i in range(n_same, n_same + n_cross)]
    accepted = lambda r: sum(r.llr(s) >= r.thresholds["eer"] for s in cross)  # noqa: E731
    assert accepted(balanced) > accepted(alike)


def test_an_encoder_runs_only_for_what_the_template_holds(fused_model_file, tmp_path):
    """A user enrolled with lips and face: verifying them never runs the voice encoder."""
    from lipauth.api import load_model
    from lipauth.auth.store import TemplateStore
    from lipauth.auth.verifier import Verifier

    store = TemplateStore(tmp_path / "v.db", create=True)
    Verifier(load_model(fused_model_file), store, modalities=("lips", "face")).enroll("s2", [need("grid-s2/video/bbaf2a.mpg")])
    verifier = Verifier(load_model(fused_model_file), store)

    class Refusing:
        def embed(self, clip):
            raise AssertionError("the voice encoder ran for a template without voice")

    verifier.modal._encoders["voice"] = Refusing()
    made = verifier.model.clip
    asked = []
    verifier.model.clip = lambda video, **kw: asked.append(kw) or made(video, **kw)
    d = verifier.verify("s2", need("grid-s2/video/bbilzs.mpg"))
    assert d.left_out == {"voice": "not enrolled for this user"} and d.fused == ["lips", "face"] and d.accepted
    from lipauth.encoders.face import CHIPS_PER_CLIP

    assert asked == [{"audio": False, "face_chips": CHIPS_PER_CLIP, "thumbnails": False}]  # no sound for a voice nobody enrolled, no thumbnails without liveness


def test_the_recipe_weighs_pairs_of_two_recordings_and_reports_them():
    """fit_rules on clips whose sessions say which genuine pairs cross recordings: those are
    counted, and weighted, the rule leans away from the modality that fails across them."""
    from lipauth.recipes.fusion import ClipVectors, FusionRecipe, fit_rules

    rng = np.random.default_rng(2)
    unit = lambda v: v / np.linalg.norm(v)  # noqa: E731
    clips = []
    for p in range(12):
        face, lips = rng.normal(size=16), [rng.normal(size=16) for _ in range(2)]  # lips: one look per recording
        for rec in range(2 if p < 2 else 1):  # two people with two recordings, few as in real data
            for take in range(4):
                noise = lambda: rng.normal(scale=0.3, size=16)  # noqa: E731
                clips.append(ClipVectors(f"p{p}", f"p{p}/rec{rec}", {"lips": unit(lips[rec] + noise()), "face": unit(face + noise())}))
    recipe = lambda balance: FusionRecipe(kind="fusion", sources={}, balance_sessions=balance, method="late")  # noqa: E731
    (alike, report), (balanced, _) = (fit_rules(clips, recipe(b), "test") for b in (False, True))
    assert report["genuine_across_sessions"] == 2 * 16 and "genuine pairs across sessions" in report["table"]
    lips_share = lambda f: f.rules[("lips", "face")].weights[0] / f.rules[("lips", "face")].weights[1]  # noqa: E731
    assert lips_share(balanced) < lips_share(alike) and "held_out" in report


def _two_recordings(lips_follow_the_person: bool, seed=2):
    """Clips of 12 people, 2 of them filmed twice; the face is the person's in every
    recording, the lips the person's or each recording's own."""
    from lipauth.recipes.fusion import ClipVectors

    rng = np.random.default_rng(seed)
    unit = lambda v: v / np.linalg.norm(v)  # noqa: E731
    clips = []
    for p in range(12):
        face, lips = rng.normal(size=16), [rng.normal(size=16) for _ in range(2)]
        for rec in range(2 if p < 2 else 1):
            look = lips[0] if lips_follow_the_person else lips[rec]
            for _ in range(4):
                clips.append(ClipVectors(f"p{p}", f"p{p}/rec{rec}", {"lips": unit(look + rng.normal(scale=0.3, size=16)), "face": unit(face + rng.normal(scale=0.3, size=16))}))
    return clips


def test_per_modality_calibration_sums_what_it_weighs():
    """The recipe's default (ScoreFusion.fit_per_modality): each modality calibrated on its
    own, the LLR of a set the sum of its modalities'; a modality left out of `weigh` is
    reported with weight 0; the report gives each modality's AUC across recordings, the
    evidence for that choice (lips that change with the recording score low there)."""
    from lipauth.errors import InvalidInputError
    from lipauth.recipes.fusion import FusionRecipe, fit_rules

    assert FusionRecipe(kind="fusion", sources={}).method == "calibrated"
    every, report = fit_rules(_two_recordings(False), FusionRecipe(kind="fusion", sources={}), "test")
    face_only, held = fit_rules(_two_recordings(False), FusionRecipe(kind="fusion", sources={}, weigh=["face"]), "test")
    auc = report["auc_across_recordings"]
    assert auc["face"] > 0.95 and auc["lips"] < 0.75 and "AUC" in report["table"]
    rule = every.rules[("lips", "face")]
    assert rule.weights[0] > 0 and rule.weights[1] > 0
    only = face_only.rules[("lips", "face")]
    assert only.weights[0] == 0.0 and only.weights[1] == pytest.approx(rule.weights[1]) and "lips: reported, weight 0" in face_only.source
    assert only.llr({"lips": 0.9, "face": 0.8}) == only.llr({"lips": -0.5, "face": 0.8})
    assert held["held_out"]["eer"] <= report["held_out"]["eer"] and held["held_out"]["eer"] < 0.05
    with pytest.raises(InvalidInputError, match="weigh"):
        fit_rules(_two_recordings(False), FusionRecipe(kind="fusion", sources={}, weigh=["voice"]), "test")


# -- early fusion: a joint embedding (lipauth.scoring.joint) -------------------------------------


def _synthetic_clips(n_people=24, per_person=4, seed=0):
    """Clips whose lips and face vectors are each a person's direction plus noise, and whose
    voice is noise alone (a modality that tells nobody apart)."""
    rng = np.random.default_rng(seed)
    dims = {"lips": 24, "voice": 32, "face": 16}
    centre = {p: {m: rng.normal(size=d) * (m != "voice") for m, d in dims.items()} for p in range(n_people)}
    people, rows = [], []
    for p in range(n_people):
        for _ in range(per_person):
            v = {m: centre[p][m] + rng.normal(size=d) for m, d in dims.items()}
            rows.append({m: (x / np.linalg.norm(x)).astype(np.float32) for m, x in v.items()})
            people.append(f"p{p}")
    return people, rows


def test_a_joint_embedding_learns_what_tells_people_apart_and_survives_a_missing_modality():
    import itertools

    from lipauth.measure.metrics import eer
    from lipauth.scoring.joint import JointFusion, cross_validated_joint

    people, rows = _synthetic_clips()
    fusion = JointFusion.fit(people[:32], rows[:32])  # 8 people train
    assert fusion.modalities == ("lips", "voice", "face")
    gains = dict(zip(fusion.modalities, fusion.net.log_gains.detach().numpy()))
    assert gains["voice"] < min(gains["lips"], gains["face"]) - 1  # it learned that the voice says nothing here
    held = list(itertools.combinations(range(32, 96), 2))  # 16 people it never saw
    genuine = np.array([people[a] == people[b] for a, b in held])
    llr = np.array([fusion.llr(rows[a], rows[b]) for a, b in held])
    assert eer(llr, genuine)[0] < 0.2 and llr[genuine].mean() > 0 > llr[~genuine].mean()
    # no face on the probe: masked, not filled in, and the embedding still separates
    faceless = np.array([fusion.llr(rows[a], {**rows[b], "face": None}) for a, b in held])
    assert eer(faceless, genuine)[0] < 0.3 and not np.allclose(faceless, llr)
    t = fusion.thresholds
    assert t["eer"] <= t["fmr_1pct"] <= t["fmr_0.1pct"]
    again = JointFusion.from_dict(fusion.to_dict())
    assert np.allclose(again.embed(rows[:5]), fusion.embed(rows[:5]), atol=1e-6) and again.thresholds == fusion.thresholds
    # the held-out estimate scores the pairs within a fold only, in combinations order
    cv, scored = cross_validated_joint(people, rows, folds=4)
    assert len(cv) == len(rows) * (len(rows) - 1) // 2 and 0 < scored.sum() < len(cv)
    g = np.array([people[a] == people[b] for a, b in itertools.combinations(range(len(rows)), 2)])
    assert eer(cv[scored], g[scored])[0] < 0.2


def test_a_joint_embedding_refuses_what_it_cannot_learn():
    from lipauth.scoring.joint import JointFusion

    people, rows = _synthetic_clips(n_people=3, per_person=1)
    with pytest.raises(InvalidInputError, match="someone with two clips"):
        JointFusion.fit(people, rows)
    people, rows = _synthetic_clips(n_people=3, per_person=2)
    rows[0] = {"lips": rows[0]["lips"], "voice": rows[0]["voice"]}
    with pytest.raises(InvalidInputError, match="same modalities"):
        JointFusion.fit(people, rows)


def test_the_early_fusion_recipe_makes_a_model_that_verifies(fusion_clips, tmp_path):
    """`method: early` in the fusion recipe: the model file carries the joint embedding, and
    verify decides on its LLR, the lip score still shown."""
    from lipauth.api import load_model
    from lipauth.auth.store import TemplateStore
    from lipauth.auth.verifier import Verifier
    from lipauth.recipes.fusion import FusionRecipe, save_fused

    model, clips = fusion_clips
    recipe = FusionRecipe.model_validate({**FUSION_RECIPE, "method": "early", "joint": {"epochs": 50}})
    path, report = save_fused(model, clips, recipe, tmp_path, "test recipe")
    assert "held_out" in report and report["held_out"]["genuine"] > 0
    early = load_model(path)
    assert early.embedder.fusion["method"] == "early"
    verifier = Verifier(early, TemplateStore(tmp_path / "t.db", create=True))
    assert verifier.modal.modalities == ("lips", "voice", "face")
    verifier.enroll("s2", [need("grid-s2/video/bbaf2a.mpg")])
    same = verifier.verify("s2", need("grid-s2/video/bbilzs.mpg"))
    assert same.fused == ["lips", "voice", "face"] and same.score == same.modality_scores["lips"]
    other = verifier.verify("s2", need("talking-faces/hdtf_obama.mp4"))
    assert same.llr > other.llr and not other.accepted
    with pytest.raises(InvalidInputError, match="joint"):
        save_fused(model, clips, FusionRecipe.model_validate({**FUSION_RECIPE, "method": "early", "joint": {"epoch": 3}}), tmp_path / "bad", "test recipe")


def test_an_encoder_whose_package_is_missing_is_left_out_and_says_why(fused_model_file, tmp_path, monkeypatch):
    """A pip install without resemblyzer: the voice cannot run; enrol and verify go on with
    the lips and the face, and the decision names the missing package."""
    import lipauth.auth.modalities as modalities
    from lipauth.api import load_model
    from lipauth.auth.store import TemplateStore
    from lipauth.auth.verifier import Verifier
    from lipauth.errors import BackendUnavailableError

    made = modalities.create_encoder

    def without_voice(name):
        if name == "voice":
            raise BackendUnavailableError("the voice encoder needs resemblyzer (test)")
        return made(name)

    monkeypatch.setattr(modalities, "create_encoder", without_voice)
    verifier = Verifier(load_model(fused_model_file), TemplateStore(tmp_path / "t.db", create=True))
    template = verifier.enroll("s2", [need("grid-s2/video/bbaf2a.mpg")])
    assert set(template.modalities) == {"face"}
    d = verifier.verify("s2", need("grid-s2/video/bbilzs.mpg"))
    assert d.accepted and d.fused == ["lips", "face"] and "resemblyzer" in d.left_out["voice"]


# -- the bundled model's fusion rules, used when asked for ---------------------------------------


@pytest.fixture(scope="module")
def bundled_fused(tmp_path_factory):
    """The bundled lip model with its default settings: its shipped rules fuse the voice and
    the face (the rules inside lipauth/assets/default_model.pt); grid-s2 enrolled from one clip."""
    pytest.importorskip("webrtcvad", reason="the voice encoder needs webrtcvad-wheels (a dependency of lipauth)")
    from lipauth.api import load_model
    from lipauth.auth.store import TemplateStore
    from lipauth.auth.verifier import Verifier

    verifier = Verifier(load_model(), TemplateStore(tmp_path_factory.mktemp("bundled") / "t.db", create=True), attempts=False)
    verifier.enroll("s2", [need("grid-s2/video/bbaf2a.mpg")])
    return verifier


def test_the_bundled_model_fuses_by_default_and_the_lips_alone_on_request(bundled_fused):
    import json

    from lipauth.api import load_model
    from lipauth.artifacts import LIP_MODEL, artifact_id, bundled
    from lipauth.auth.verifier import Verifier
    from lipauth.models.embedder import LipEmbedder

    model = load_model()
    assert model.embedder.fusion == LipEmbedder.load(bundled(LIP_MODEL)).fusion is not None  # the rules are in the model file
    assert json.loads(json.dumps(model.embedder.fusion)) == model.embedder.fusion
    # templates stamped with the bundled file's digest before the rules moved into it still verify
    assert model.id == model.embedder.identity() and {artifact_id(bundled(LIP_MODEL)), "c320b57142492132"} < model.ids
    assert bundled_fused.modal.modalities == ("lips", "voice", "face")
    assert set(bundled_fused.modal.fusion.rules) == {("lips", "voice"), ("lips", "face"), ("lips", "voice", "face")}
    lips = Verifier(model, bundled_fused.store, modalities=("lips",))
    assert lips.modal.modalities == ("lips",) and lips.modal.extra == ()
    d = lips.verify("s2", need("grid-s2/video/bbilzs.mpg"))
    assert d.accepted and d.fused == [] and d.modality_scores == {}  # the template's voice and face are not used


def test_an_enrolment_of_different_people_is_refused_with_their_scores(bundled_fused):
    """Issue #24: three people enrolled as one were accepted by the lips' agreement bar. With
    the voice and face, each clip is judged against the others by the fused LLR, for any
    number of clips, and clips added later against the template."""
    from lipauth.errors import FailureToEnrol, UnknownUserError

    s2, s1, crema = need("grid-s2/video/bbaf2a.mpg"), need("grid-s1/video/bbaf2n.mpg"), sorted(need("crema-d-sample").glob("*.flv"))[0]
    for clips in ([s2, s1, crema], [s2, crema]):
        with pytest.raises(FailureToEnrol, match=r"do not agree.*voice [0-9.]+, face [0-9.]+.*fused LLR") as refused:
            bundled_fused.enroll("mix", clips)
        assert "bbaf2a" in str(refused.value) or len(clips) == 2
        with pytest.raises(UnknownUserError):
            bundled_fused.store.get("mix")  # nothing stored
    before = bundled_fused.store.get("s2")
    with pytest.raises(FailureToEnrol, match="crema|1001"):
        bundled_fused.enroll("s2", [crema], mode="add")
    assert len(bundled_fused.store.get("s2").embeddings) == len(before.embeddings)  # the template is as it was


def test_the_bundled_rules_accept_the_person_and_refuse_another_face_and_another_voice(bundled_fused, tmp_path):
    """Issue #14: the person's own second clip is accepted; another person, and the person's
    face and lips speaking with another man's voice (a dub, as a lip-synced fake driven by
    someone else's voice would sound), are refused at the default operating point."""
    from lipauth.video.decode import decode_video
    from lipauth.video.encode import write_video

    same = bundled_fused.verify("s2", need("grid-s2/video/bbilzs.mpg"))
    assert same.accepted and same.fused == ["lips", "voice", "face"] and same.llr >= same.llr_threshold
    assert not bundled_fused.verify("s2", need("talking-faces/hdtf_obama.mp4")).accepted
    video, voice = decode_video(need("grid-s2/video/bbilzs.mpg")), decode_video(need("grid-s1/video/bbaf2n.mpg"))
    n = min(len(video.audio), len(voice.audio))
    dub = bundled_fused.verify("s2", write_video(tmp_path / "dub.mp4", video.frames, video.fps, voice.audio[:n]))
    assert dub.score >= dub.threshold and dub.modality_scores["face"] > 0.9  # the lips and the face say yes
    assert not dub.accepted and dub.fused == ["lips", "voice", "face"]


def test_the_cli_fuses_the_voice_and_face_by_default(tmp_path):
    import json

    from typer.testing import CliRunner

    from lipauth.cli import app

    pytest.importorskip("webrtcvad", reason="the voice encoder needs webrtcvad-wheels (a dependency of lipauth)")
    runner, store = CliRunner(), str(tmp_path / "cli.db")
    done = runner.invoke(app, ["enroll", "s2", str(need("grid-s2/video/bbaf2a.mpg")), "--store", store])
    assert done.exit_code == 0 and "1 with voice, 1 with face" in done.output, done.output
    assert "weak enrolment" in done.output and "one clip" in done.output
    done = runner.invoke(app, ["verify", "s2", str(need("grid-s2/video/bbilzs.mpg")), "--store", store, "--json"])
    d = json.loads(done.output.strip().splitlines()[-1])
    assert done.exit_code == 0 and d["fused"] == ["lips", "voice", "face"] and d["accepted"]
    done = runner.invoke(app, ["verify", "s2", str(need("grid-s2/video/bbilzs.mpg")), "--store", store, "--modalities", "lips", "--json"])
    assert done.exit_code == 0 and json.loads(done.output.strip().splitlines()[-1])["fused"] == []


@pytest.mark.slow
def test_the_bundled_rules_are_what_their_recipe_makes(tmp_path):
    """configs/fusion.yaml on ../shared/data re-makes the rules inside lipauth/assets/default_model.pt."""
    import json

    import yaml

    from lipauth.api import load_model
    from lipauth.recipes.fusion import run_fusion

    pytest.importorskip("webrtcvad", reason="the voice encoder needs webrtcvad-wheels (a dependency of lipauth)")
    recipe = yaml.safe_load(open(__import__("pathlib").Path(__file__).parents[1] / "configs" / "fusion.yaml"))
    made = run_fusion(recipe, need("grid-s1").parent, tmp_path, "configs/fusion.yaml")
    ours, shipped = json.loads((tmp_path / "fusion.json").read_text()), load_model().embedder.fusion
    assert made["report"]["people"] == 27
    for a, b in zip(ours["rules"], shipped["rules"]):
        assert a["modalities"] == b["modalities"]
        assert np.allclose(a["weights"], b["weights"], atol=1e-3) and abs(a["bias"] - b["bias"]) < 1e-3
        assert all(abs(a["thresholds"][k] - b["thresholds"][k]) < 1e-3 for k in a["thresholds"])
        assert a["normalised"].keys() == b["normalised"].keys() and all(abs(a["normalised"][k] - b["normalised"][k]) < 1e-3 for k in a["normalised"])


# -- per-user thresholds on the fused LLR (scoring.fusion.fit_normalised) -------------------------


def _studio_people(seed=3):
    """Clips (person, modality -> unit vector): 'solo' people with one clip each, filmed
    anywhere, and three people of one 'studio' with 8 clips each, whose clips lie close to
    each other and whose studio makes every one of them a little alike."""
    rng = np.random.default_rng(seed)
    dims = {"lips": 16, "voice": 16, "face": 16}
    unit = lambda v: (v / np.linalg.norm(v)).astype(np.float32)  # noqa: E731
    studio = {m: rng.normal(size=d) for m, d in dims.items()}
    clips = []
    for p in range(3):
        centre = {m: rng.normal(size=d) + 1.2 * studio[m] for m, d in dims.items()}
        clips += [(f"studio{p}", {m: unit(centre[m] + rng.normal(scale=0.25, size=d)) for m, d in dims.items()}) for _ in range(8)]
    for p in range(20):
        centre = {m: rng.normal(size=d) for m, d in dims.items()}
        clips += [(f"solo{p}", {m: unit(centre[m] + rng.normal(scale=0.8, size=d)) for m, d in dims.items()}) for _ in range(1 + p % 2)]
    return clips


def test_a_template_has_its_own_fused_level_and_the_rules_learn_an_offset_from_it():
    import itertools

    from lipauth.scoring.fusion import ScoreFusion, fit_normalised
    from lipauth.scoring.templates import template_vector

    clips = _studio_people()
    pairs = list(itertools.combinations(clips, 2))
    scores = {m: np.array([float(a[1][m] @ b[1][m]) for a, b in pairs]) for m in ("lips", "voice", "face")}
    fusion = ScoreFusion.fit(scores, np.array([a[0] == b[0] for a, b in pairs]))
    assert fit_normalised(fusion, clips) == 3  # the three studio people have more than 3 clips
    rule = fusion.rules[("lips", "voice", "face")]
    t = rule.normalised
    assert set(t) == {"eer", "fmr_1pct", "fmr_0.1pct"} and t["eer"] <= t["fmr_1pct"] <= t["fmr_0.1pct"]
    # the self LLR is the mean leave-one-out LLR of the template's clips
    enrolled = {m: np.stack([v[m] for _, v in clips[:3]]) for m in rule.modalities}
    by_hand = np.mean([rule.llr({m: float(template_vector(np.delete(enrolled[m], i, 0)) @ enrolled[m][i]) for m in rule.modalities}) for i in range(3)])
    assert rule.self_llr(enrolled) == pytest.approx(by_hand)
    assert rule.self_llr({m: v[:1] for m, v in enrolled.items()}) is None  # one clip: no level of its own
    assert rule.self_llr({**enrolled, "face": enrolled["face"][:2]}) is None  # not the same clips
    assert ScoreFusion.from_dict(fusion.to_dict()).rules == fusion.rules


def test_the_per_user_threshold_refuses_a_studio_mate_the_rule_alone_accepts():
    """A studio person enrolled from 3 clips: another person of the same studio clears the
    rule's threshold, not this user's own; the user's other clips clear both."""
    import itertools

    from lipauth.auth.modalities import ModalityScorer
    from lipauth.auth.templates import Template
    from lipauth.scoring.fusion import ScoreFusion, fit_normalised

    clips = _studio_people()
    fitting = [c for c in clips if c[0] != "studio0"]  # the user is no one the rules saw
    pairs = list(itertools.combinations(fitting, 2))
    fusion = ScoreFusion.fit({m: np.array([float(a[1][m] @ b[1][m]) for a, b in pairs]) for m in ("lips", "voice", "face")}, np.array([a[0] == b[0] for a, b in pairs]))
    fit_normalised(fusion, fitting)
    scorer = ModalityScorer(None, fusion.to_dict())
    user = [v for p, v in clips if p == "studio0"]
    template = Template.from_embeddings("u", np.stack([v["lips"] for v in user[:3]]), "m", modalities={m: np.stack([v[m] for v in user[:3]]) for m in ("voice", "face")})

    def verdict(v, per_user):
        return scorer.fuse(float(template.mean @ v["lips"]), template, dict(v), {}, "eer", per_user)

    for v in user[3:]:
        assert verdict(v, True).accepted and verdict(v, False).accepted
    mates = [v for p, v in clips if p in ("studio1", "studio2")]
    rule_alone = sum(verdict(v, False).accepted for v in mates)
    own = [verdict(v, True) for v in mates]
    assert rule_alone > 0 and not any(d.accepted for d in own)
    assert own[0].llr_threshold > verdict(mates[0], False).llr_threshold and "this user's" in own[0].how


def test_compare_asks_the_fusion_rules_about_two_videos(tmp_path):
    """`compare` with the voice and the face: the bundled rules decide on the clip pair (the
    trials they were fitted on): the same man in two clips is the same person; another
    person, and the man's face with another man's voice, are not."""
    import json

    from typer.testing import CliRunner

    from lipauth.api import load_model
    from lipauth.auth.compare import compare
    from lipauth.cli import app
    from lipauth.video.decode import decode_video
    from lipauth.video.encode import write_video

    pytest.importorskip("webrtcvad", reason="the voice encoder needs webrtcvad-wheels (a dependency of lipauth)")
    model, every = load_model(), ("lips", "voice", "face")
    a, b = need("grid-s2/video/bbaf2a.mpg"), need("grid-s2/video/bbilzs.mpg")
    same = compare(model, a, b, modalities=every)
    assert same.accepted and same.fused == list(every) and same.llr >= same.llr_threshold
    assert same.modality_scores["lips"] == pytest.approx(same.score)
    assert not compare(model, a, need("talking-faces/hdtf_obama.mp4"), modalities=every).accepted
    video, voice = decode_video(b), decode_video(need("grid-s1/video/bbaf2n.mpg"))
    n = min(len(video.audio), len(voice.audio))
    dub = compare(model, a, write_video(tmp_path / "dub.mp4", video.frames, video.fps, voice.audio[:n]), modalities=every)
    assert dub.score >= dub.threshold and not dub.accepted  # the lips alone would say yes
    assert compare(model, a, b).fused == list(every)  # the default: every modality the rules cover
    lips = compare(model, a, b, modalities=("lips",))
    assert lips.fused == [] and lips.modality_scores == {} and lips.accepted
    done = CliRunner().invoke(app, ["compare", str(a), str(b), "--modalities", "lips,face", "--json"])
    d = json.loads(done.output.strip().splitlines()[-1])
    assert done.exit_code == 0 and d["fused"] == ["lips", "face"] and d["accepted"]
    done = CliRunner().invoke(app, ["compare", str(a), str(b), "--modalities", "lips,face", "--operating-point", "0.7"])
    assert done.exit_code == 2 and "name an operating point" in done.output


def test_verify_takes_the_users_own_fused_threshold_under_normalised_scoring(tmp_path):
    """The verifier hands its scoring to the fused decision: with a 3-clip template,
    normalised scoring (the default) asks the template's own LLR plus the rule's offset,
    raw scoring the rule's one threshold."""
    from lipauth.api import load_model
    from lipauth.auth.store import TemplateStore
    from lipauth.auth.verifier import Verifier

    pytest.importorskip("webrtcvad", reason="the voice encoder needs webrtcvad-wheels (a dependency of lipauth)")
    every, model = ("lips", "voice", "face"), load_model()
    store = TemplateStore(tmp_path / "t.db", create=True)
    own = Verifier(model, store, modalities=every)
    assert own.fused_per_user
    own.enroll("s2", sorted(need("grid-s2/video").glob("*.mpg"))[:3])
    rule = own.modal.fusion.rule_for(every)
    template = store.get("s2")
    expected = rule.self_llr({"lips": template.embeddings, **template.modalities}) + rule.normalised["eer"]
    probe = need("grid-s2/video/bbilzs.mpg")
    d = own.verify("s2", probe)
    assert d.llr_threshold == pytest.approx(expected) and any("this user's" in r for r in d.reasons)
    raw = Verifier(model, store, modalities=every, scoring="raw").verify("s2", probe)
    assert raw.llr_threshold == pytest.approx(rule.thresholds["eer"]) and raw.llr == pytest.approx(d.llr)
    assert any("the rule's threshold" in r for r in raw.reasons)


def test_a_new_modality_joins_the_decision_without_touching_the_verifier(lip_model_file, tmp_path):
    """A modality is an encoder registered by name and fusion rules that name it: the
    Verifier, the CLI and the service are not edited. Here a toy one, the mean shape of the
    lips (their landmarks), registered for the test only."""
    import dataclasses

    from lipauth.api import LipModel, load_model
    from lipauth.auth.store import TemplateStore
    from lipauth.auth.verifier import Verifier
    from lipauth.encoders import ENCODERS

    class MouthShape:
        name, needs_audio, face_chips, missing = "mouth_shape", False, 0, "no landmarks"

        def embed(self, clip):
            if clip.landmarks is None:
                return None
            v = clip.landmarks.mean(axis=0).ravel() - 0.5
            return (v / np.linalg.norm(v)).astype(np.float32)

    ENCODERS.register("mouth_shape")(MouthShape)
    try:
        bundled = load_model(lip_model_file)
        rules = {"rules": [{"modalities": ["lips", "mouth_shape"], "weights": [0.0, 10.0], "bias": -5.0, "thresholds": {"eer": 0.0, "fmr_1pct": 1.0, "fmr_0.1pct": 2.0}}]}
        model = LipModel(dataclasses.replace(bundled.embedder, fusion=rules), bundled.id)
        verifier = Verifier(model, TemplateStore(tmp_path / "t.db", create=True), attempts=False, audit=False)
        s2 = sorted(need("grid-s2/video").glob("*.mpg"))
        template = verifier.enroll("s2", s2[:3])
        assert template.modalities["mouth_shape"].shape == (3, 48)
        d = verifier.verify("s2", s2[5])
        assert d.fused == ["lips", "mouth_shape"] and set(d.modality_scores) == {"lips", "mouth_shape"}
        assert d.llr == pytest.approx(10 * d.modality_scores["mouth_shape"] - 5, abs=1e-4)
        assert d.accepted == (d.llr >= 0.0)
    finally:
        ENCODERS._factories.pop("mouth_shape", None)



def test_identify_in_the_service_shortlists_by_the_voice_and_face_too(bundled_fused, tmp_path):
    """The service's index holds the voice and face vectors beside the lips: a person the lips
    leave out of their shortlist (here: the lips' search answers with another man only) is
    still found, by the face and voice, and matched on the fused LLR."""
    from lipauth.auth.store import TemplateStore
    from lipauth.auth.verifier import Verifier

    verifier = Verifier(bundled_fused.model, TemplateStore(tmp_path / "t.db", create=True), attempts=False, audit=False)
    verifier.enroll("s2", [need("grid-s2/video/bbaf2a.mpg")])
    verifier.enroll("s1", [need("grid-s1/video/bbaf2n.mpg")])
    index = verifier.build_index()
    assert index.wait_for_modalities(60)  # built in a thread after start
    assert set(index.by_modality) == {"voice", "face"} and len(index.by_modality["face"]) == 2
    lips_only = index.nearest
    index.nearest = lambda probe, k: [x for x in lips_only(probe, k) if x[0] == "s1"]
    found = verifier.identify(need("grid-s2/video/bbilzs.mpg"), k=2)
    assert [c.user for c in found] == ["s2", "s1"] and found[0].accepted and not found[1].accepted
    assert found[0].fused == ["lips", "voice", "face"]
    # enrolled after the index was built: picked up from the store's change log, face included
    verifier.enroll("p01", [need("talking-faces/hdtf_obama.mp4")])
    face = verifier.modal.vectors(verifier.model.clip(need("talking-faces/hdtf_obama.mp4"), face_chips=1), ("face",))[0]["face"]
    assert index.nearest_by("face", face, 1)[0][0] == "p01"
    verifier.store.delete("p01")
    assert "p01" not in {u for u, _ in index.nearest_by("face", np.ones(128, np.float32) / np.sqrt(128), 5)}
