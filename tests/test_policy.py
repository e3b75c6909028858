"""The decision policy: one threshold per operating point, the same on every surface, and
LLRs whose sign agrees with the decision at the EER point."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from lipauth.api import load_model
from lipauth.auth.store import TemplateStore
from lipauth.auth.verifier import Verifier
from lipauth.cli import app
from lipauth.errors import InvalidInputError
from lipauth.scoring.policy import DecisionPolicy
from tests.conftest import need

runner = CliRunner()
RAW = {"eer": 0.5, "fmr_1pct": 0.6, "fmr_0.1pct": 0.7, "llr_slope": 10.0}
NORMALISED = {"eer": -0.2, "fmr_1pct": -0.1, "fmr_0.1pct": -0.05, "llr_slope": 20.0}


def _unit(rows):
    e = np.asarray(rows, np.float32)
    return e / np.linalg.norm(e, axis=1, keepdims=True)


def test_the_llr_slope_fitted_on_scores_is_the_true_log_likelihood_ratio():
    """Not true by construction: on two Gaussian classes of equal spread the true LLR is a
    line, (mu_g - mu_i) / sigma^2 * (s - (mu_g + mu_i) / 2); the calibration fitted on their
    scores (what a model file's llr_slope comes from) must find it, whatever the classes'
    sizes (balanced: prior-free)."""
    from lipauth.measure.metrics import fit_llr_calibration

    rng = np.random.default_rng(0)
    mu_g, mu_i, sigma = 0.7, 0.3, 0.1
    scores = np.concatenate([rng.normal(mu_g, sigma, 2000), rng.normal(mu_i, sigma, 20000)])
    genuine = np.arange(len(scores)) < 2000
    a, b = fit_llr_calibration(scores, genuine)
    assert a == pytest.approx((mu_g - mu_i) / sigma**2, rel=0.1)
    assert -b / a == pytest.approx((mu_g + mu_i) / 2, abs=0.01)  # where the LLR crosses 0


def test_raw_policy_llr_is_zero_at_the_eer_threshold_and_agrees_with_the_decision():
    p = DecisionPolicy(RAW, operating_point="eer")
    rng = np.random.default_rng(0)
    for _ in range(50):
        e = _unit(rng.normal(size=(3, 8)))
        v = p.decide(e, _unit(rng.normal(size=(1, 8)))[0])
        assert v.threshold == 0.5 and v.llr_threshold == 0.0
        assert (v.llr >= 0) == v.accepted and v.llr == pytest.approx(10 * (v.score - 0.5), abs=1e-5)
    strict = DecisionPolicy(RAW, operating_point="fmr_1pct")
    assert strict.threshold == 0.6 and strict.llr(0.6) == pytest.approx(1.0)


def test_normalised_policy_thresholds_each_user_by_their_self_similarity():
    p = DecisionPolicy(RAW, normalised=NORMALISED, scoring="normalised")
    e = _unit([[1, 0], [0.8, 0.6], [0.6, 0.8]])
    own = np.mean([e[i] @ (e.sum(0) - e[i]) / np.linalg.norm(e.sum(0) - e[i]) for i in range(3)])
    v = p.decide(e, e[1])
    assert v.threshold == pytest.approx(own - 0.2, abs=1e-6) and v.llr_threshold == 0.0
    assert (v.llr >= 0) == v.accepted and v.llr == pytest.approx(20 * (v.score - own + 0.2), abs=1e-4)
    one = p.decide(e[:1], e[1])  # one enrolment clip: no self-similarity, the raw threshold
    assert one.threshold == 0.5 and (one.llr >= 0) == one.accepted
    s = p.decision_scores(np.array([0.9, 0.1]), np.array([0.95, 0.3]))
    np.testing.assert_allclose(s, [-0.05, -0.2])


def test_bad_policies_are_refused():
    with pytest.raises(InvalidInputError, match="operating point"):
        DecisionPolicy(RAW, operating_point="fmr_50pct")
    with pytest.raises(InvalidInputError, match="normalised"):
        DecisionPolicy(RAW, scoring="normalised")
    with pytest.raises(InvalidInputError, match="scoring"):
        DecisionPolicy(RAW, scoring="zscore")
    assert DecisionPolicy(RAW, normalised=NORMALISED, operating_point=0.3, scoring="normalised").scoring == "raw"


def test_rejected_probes_of_the_bundled_model_never_get_a_positive_llr(lip_model_file, tmp_path, monkeypatch):
    """The issue's case: impostors rejected with a positive LLR (+5.3) by the bundled model."""
    monkeypatch.delenv("LIPAUTH_STORE_KEY", raising=False)
    v = Verifier(load_model(lip_model_file), TemplateStore(tmp_path / "t.db", create=True), modalities=("lips",), attempts=False)
    s2 = sorted(need("grid-s2/video").glob("*.mpg"))
    v.enroll("s2", s2[:3])
    others = sorted(need("grid-sample").glob("*.mpg"))[:6]
    decisions = [v.verify("s2", p) for p in s2[3:6] + others]
    assert any(d.accepted for d in decisions) and any(not d.accepted for d in decisions)
    for d in decisions:
        assert d.llr_threshold == 0.0 and (d.llr >= 0) == d.accepted, (d.score, d.threshold, d.llr)


def test_one_threshold_in_verify_identify_and_evaluate(lip_model_file, tmp_path, monkeypatch):
    """For one user and operating point: the CLI's verify and identify, the library, and the
    evaluation report and its histogram all use the same threshold."""
    import lipauth.eval.evaluate as evaluate_module
    from lipauth.clip import CropSpec
    from lipauth.corpora.dataset import load_dataset

    monkeypatch.delenv("LIPAUTH_STORE_KEY", raising=False)
    db = str(tmp_path / "t.db")
    s2 = sorted(need("grid-s2/video").glob("*.mpg"))
    common = ["--store", db, "--model", str(lip_model_file)]
    for point in ("eer", "fmr_1pct"):
        assert runner.invoke(app, ["enroll", f"s2-{point}", *map(str, s2[:3]), *common]).exit_code == 0
        res = runner.invoke(app, ["verify", f"s2-{point}", str(s2[4]), *common, "--operating-point", point, "--json"])
        verified = json.loads(res.output)
        verifier = Verifier(load_model(lip_model_file), TemplateStore(db), operating_point=point)
        library = verifier.verify(f"s2-{point}", s2[4])
        assert verified["threshold"] == pytest.approx(library.threshold, abs=1e-9)
        assert verified["threshold"] == pytest.approx(verifier.threshold_for(verifier.store.get(f"s2-{point}"))[0], abs=1e-9)
    res = runner.invoke(app, ["identify", str(s2[4]), *common, "--json"])
    found = {c["user"]: c for c in json.loads(res.output)["candidates"]}
    eer_verify = json.loads(runner.invoke(app, ["verify", "s2-eer", str(s2[4]), *common, "--json"]).output)
    assert found["s2-eer"]["threshold"] == pytest.approx(eer_verify["threshold"], abs=1e-9)
    assert found["s2-eer"]["accepted"] == eer_verify["accepted"]

    drawn = {}
    monkeypatch.setattr(evaluate_module, "histogram_plot", lambda scores, genuine, out, title, threshold=None, **kw: drawn.update(threshold=threshold))
    model = load_model(lip_model_file)
    clips = load_dataset(need("avletters"), "avletters", CropSpec()).clips[::6]
    m = evaluate_module.evaluate_clips(model.embedder, clips, tmp_path / "eval", n_boot=0).metrics()
    policy = Verifier(model, TemplateStore(db)).policy
    assert m["decision"]["threshold"] == drawn["threshold"] == policy.threshold
    assert m["decision"]["scoring"] == policy.scoring and m["verification"]["n_genuine"] > 0
    assert f"{policy.threshold:.3f}" in (tmp_path / "eval" / "report.md").read_text()
