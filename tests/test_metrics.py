import numpy as np
import pytest
from sklearn.metrics import roc_curve

from lipauth.errors import InvalidInputError
from lipauth.measure.metrics import bootstrap_eer_ci, eer, error_curve, fit_llr_calibration, fnmr_at_fmr, min_dcf, rates_at


def _scores(n_g=400, n_i=4000, sep=2.0, seed=0):
    rng = np.random.default_rng(seed)
    s = np.concatenate([rng.normal(sep, 1, n_g), rng.normal(0, 1, n_i)])
    g = np.concatenate([np.ones(n_g, bool), np.zeros(n_i, bool)])
    return s, g


@pytest.mark.parametrize("sep, seed", [(0.5, 0), (2.0, 1), (4.0, 2)])
def test_eer_matches_scikit_learn(sep, seed):
    s, g = _scores(sep=sep, seed=seed)
    fpr, tpr, thr = roc_curve(g, s)
    fnr = 1 - tpr
    i = np.nanargmin(np.abs(fnr - fpr))
    sk_eer = (fpr[i] + fnr[i]) / 2
    ours, t = eer(s, g)
    assert ours == pytest.approx(sk_eer, abs=1.5 / 400)
    # at our threshold, FMR and FNMR are both close to the EER
    r = rates_at(s, g, t)
    assert abs(r["fmr"] - ours) < 0.01 and abs(r["fnmr"] - ours) < 0.01


def test_perfect_and_hopeless_separation():
    g = np.array([1, 1, 0, 0], bool)
    assert eer(np.array([0.9, 0.8, 0.1, 0.2]), g)[0] == 0.0
    assert eer(np.array([0.1, 0.2, 0.9, 0.8]), g)[0] == pytest.approx(1.0)


def test_error_curve_by_hand():
    s = np.array([0.1, 0.4, 0.35, 0.8])
    g = np.array([False, True, False, True])
    c = error_curve(s, g)
    # thresholds 0.1, 0.35, 0.4, 0.8, inf
    np.testing.assert_allclose(c.thresholds[:-1], [0.1, 0.35, 0.4, 0.8])
    np.testing.assert_allclose(c.fmr, [1.0, 0.5, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(c.fnmr, [0.0, 0.0, 0.0, 0.5, 1.0])


def test_fnmr_at_fmr_and_min_dcf():
    s, g = _scores(sep=3.0)
    fnmr, t = fnmr_at_fmr(s, g, 0.01)
    assert (s[~g] >= t).mean() <= 0.01
    assert fnmr == pytest.approx((s[g] < t).mean())
    dcf, _ = min_dcf(s, g, 0.01)
    assert 0 < dcf <= 1.0


def test_weights_equal_repetition():
    s, g = _scores(n_g=50, n_i=200)
    w = np.random.default_rng(0).integers(1, 4, len(s))
    assert eer(s, g, w)[0] == pytest.approx(eer(np.repeat(s, w), np.repeat(g, w))[0], abs=1e-9)


def test_bootstrap_ci_brackets_the_eer():
    rng = np.random.default_rng(0)
    spk = rng.integers(0, 10, (5000, 2))
    g = spk[:, 0] == spk[:, 1]
    s = rng.normal(0, 1, 5000) + 2.5 * g
    e, _ = eer(s, g)
    lo, hi = bootstrap_eer_ci(s, g, spk[:, 0].tolist(), spk[:, 1].tolist(), n_boot=200)
    assert lo < e < hi and hi - lo < 0.1


def test_llr_calibration_is_monotone_and_centred():
    s, g = _scores(sep=2.0)
    a, b = fit_llr_calibration(s, g)
    assert a > 0
    # for equal-variance Gaussians the LLR is zero half-way between the means
    assert -b / a == pytest.approx(1.0, abs=0.15)


def test_needs_both_kinds():
    with pytest.raises(InvalidInputError):
        eer(np.array([0.1, 0.2]), np.array([True, True]))
