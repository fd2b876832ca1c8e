"""Linear models recover known coefficients; XGBoost is reproducible; no fold leaks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lusfeat import InputError
from lusfeat.stats import fit_model
from lusfeat.stats._analyze import _cross_validate, _Progress
from lusfeat.stats._tasks import TaskData

TRUE = np.array([5.0, 2.0, -0.3, 10.0])  # intercept, a, b, c


def _regression(rng, n_patients=80, rows=3):
    g = np.repeat(np.arange(n_patients), rows)
    x = rng.normal(size=(g.size, 3)) * [1.0, 10.0, 0.1]
    u = rng.normal(0, 1.0, n_patients)[g]  # patient random intercept: clustered errors
    y = TRUE[0] + x @ TRUE[1:] + u + rng.normal(0, 1.0, g.size)
    return x, y, g


def test_ols_recovers_coefficients_within_cis():
    x, y, g = _regression(np.random.default_rng(0))
    t = fit_model("linear", "regression", x, y, g, ["a", "b", "c"]).table
    assert list(t.index) == ["const", "a", "b", "c"]
    covered = (t["ci_low"] <= TRUE) & (TRUE <= t["ci_high"])
    assert covered.sum() >= 3, t  # P(<3 of 4 covered) is about 1.4% for exact 95% CIs
    assert (np.abs(t["coef"] - TRUE) < 3.5 * t["se"]).all(), t


def test_ols_cluster_ci_coverage_is_nominal():
    """Over repeated simulations the 95% CIs cover the truth ~95% of the time."""
    rng = np.random.default_rng(11)
    sims, hits, total = 150, 0, 0
    for _ in range(sims):
        x, y, g = _regression(rng, n_patients=60)
        t = fit_model("linear", "regression", x, y, g, ["a", "b", "c"]).table
        cover = (t["ci_low"].to_numpy() <= TRUE) & (TRUE <= t["ci_high"].to_numpy())
        hits += cover.sum()
        total += cover.size
    rate = hits / total
    # 600 intervals; 3 binomial SEs (~0.027); intervals of one fit are not independent, so
    # we allow 3.5 SEs of the per-simulation count
    assert abs(rate - 0.95) < 3.5 * np.sqrt(0.95 * 0.05 / sims), rate


def test_naive_ols_ses_would_fail_the_coverage_that_cluster_ses_pass():
    """Guard against silently dropping the cluster-robust covariance: on strongly
    clustered errors with a patient-level regressor naive SEs are far too small."""
    import statsmodels.api as sm

    rng = np.random.default_rng(3)
    g = np.repeat(np.arange(50), 6)
    xp = rng.normal(size=50)[g][:, None]
    y = 1 + 0.5 * xp[:, 0] + rng.normal(0, 2, 50)[g] + rng.normal(0, 0.3, g.size)
    t = fit_model("linear", "regression", xp, y, g, ["x"]).table
    naive = sm.OLS(y, sm.add_constant(xp)).fit().bse[1]
    assert t.loc["x", "se"] > 1.5 * naive


def test_mixedlm_recovers_coefficients():
    x, y, g = _regression(np.random.default_rng(1))
    m = fit_model("linear", "regression", x, y, g, ["a", "b", "c"], sf_model="mixedlm")
    assert m.method == "mixedlm"
    t = m.table
    assert ((t["ci_low"] <= TRUE) & (TRUE <= t["ci_high"])).all(), t


def test_logit_recovers_odds_ratios_and_switches_to_l2():
    rng = np.random.default_rng(2)
    n = 1500
    x = rng.normal(size=(n, 2))
    beta = np.array([-0.5, 1.0, -0.7])
    y = (rng.random(n) < 1 / (1 + np.exp(-(beta[0] + x @ beta[1:])))).astype(float)
    m = fit_model("linear", "binary", x, y, np.arange(n), ["a", "b"])
    assert m.method == "logit"
    t = m.table
    assert ((t["ci_low"] <= beta) & (beta <= t["ci_high"])).all(), t
    np.testing.assert_allclose(t["odds_ratio"], np.exp(t["coef"]))
    many = np.c_[x[:100], rng.normal(size=(100, 30))]
    m2 = fit_model("linear", "binary", many, y[:100], np.arange(100), [f"f{i}" for i in range(32)])
    assert m2.method == "logit-l2" and "L2" in m2.summary().as_text()


def test_xgboost_reproducible_and_tuned_by_inner_grouped_cv():
    x, y, g = _regression(np.random.default_rng(4))
    a = fit_model("xgboost", "regression", x, y, g, ["a", "b", "c"], seed=3)
    b = fit_model("xgboost", "regression", x, y, g, ["a", "b", "c"], seed=3)
    np.testing.assert_array_equal(a.predict(x), b.predict(x))
    info = dict(a.info)
    assert info["Tuning"].startswith("inner 3-fold patient-grouped CV")
    assert "xgboost" in str(a.summary())
    # the strong linear signal needs more than the smallest tree count of the grid
    assert info["Trees"] > 10


def test_xgboost_fixed_hyperparameters_and_tiny_fallback():
    x, y, g = _regression(np.random.default_rng(4), n_patients=40)
    m = fit_model("xgboost", "regression", x, y, g, ["a", "b", "c"],
                  xgb_params={"max_depth": 1, "min_child_weight": 1.0, "n_estimators": 25})
    info = dict(m.info)
    assert (info["max_depth"], info["Trees"]) == (1, 25)
    tiny = fit_model("xgboost", "binary", x[:6], (np.arange(6) % 2).astype(float), np.arange(6) // 2,
                     ["a", "b", "c"])
    assert "fallback" in dict(tiny.info)["Tuning"] and np.isfinite(tiny.threshold)


def _binary(rng, n_patients=120, rate=0.25):
    x = rng.normal(size=(n_patients, 4))
    eta = np.log(rate / (1 - rate)) + 1.2 * x[:, 0] - 0.8 * x[:, 1]
    y = (rng.random(n_patients) < 1 / (1 + np.exp(-eta))).astype(float)
    return x, y, np.arange(n_patients)


def test_youden_threshold_by_brute_force():
    from lusfeat.stats import youden_threshold

    rng = np.random.default_rng(9)
    for _ in range(20):
        y = (rng.random(40) < 0.3).astype(int)
        y[:2] = [0, 1]
        s = np.round(y * 0.8 + rng.normal(size=40), 1)
        t = youden_threshold(y, s)

        def j(cut, s=s, y=y):
            return np.mean(s[y == 1] >= cut) - np.mean(s[y == 0] >= cut)

        best = max(j(c) for c in np.unique(s))
        assert j(t) == pytest.approx(best)  # the midpoint cut classifies like an optimal cut
    assert youden_threshold(np.zeros(5), np.arange(5.0)) == 0.5


@pytest.mark.parametrize("model", ["linear", "penalized", "xgboost"])
def test_binary_thresholds_follow_the_base_rate(model):
    """With 25% events, a probability model's Youden cut sits well below 0.5 (near the base
    rate); a 0.5 cut would call almost nobody positive."""
    x, y, g = _binary(np.random.default_rng(10), n_patients=200)
    m = fit_model(model, "binary", x, y, g, ["a", "b", "c", "d"])
    assert 0.1 < m.threshold < 0.45, (m.method, m.threshold)
    assert "Threshold (Youden J" in m.summary().as_text()


def test_penalized_ridge_and_logistic():
    x, y, g = _regression(np.random.default_rng(12))
    r = fit_model("penalized", "regression", x, y, g, ["a", "b", "c"])
    assert r.method == "ridge" and "inner 5-fold" in dict(r.info)["alpha (penalty)"]
    pred = r.predict(x)
    assert np.corrcoef(pred, y)[0, 1] > 0.9
    # the inner-CV path of ridge equals scikit-learn's Ridge at every grid penalty
    from sklearn.linear_model import Ridge

    from lusfeat.stats._models import RIDGE_GRID, _ridge_path_sse

    xs = (x - x.mean(0)) / x.std(0)
    sse = _ridge_path_sse(xs[:150], y[:150], xs[150:], y[150:])
    for a, e in zip(RIDGE_GRID, sse, strict=True):
        p = Ridge(alpha=a).fit(xs[:150], y[:150]).predict(xs[150:])
        assert e == pytest.approx(((p - y[150:]) ** 2).sum(), rel=1e-8)
    xb, yb, gb = _binary(np.random.default_rng(13))
    lg = fit_model("penalized", "binary", xb, yb, gb, ["a", "b", "c", "d"])
    assert lg.method == "logit-l2" and lg.model == "penalized"
    assert "inner patient-grouped CV" in dict(lg.info)["C (inverse penalty)"]


def test_mixedlm_summary_reports_patient_variance():
    x, y, g = _regression(np.random.default_rng(14))
    s = fit_model("linear", "regression", x, y, g, ["a", "b", "c"], sf_model="mixedlm").summary("S/F")
    info = dict(s.info)
    assert info["Method"] == "MixedLM, patient random intercept"
    assert 0.4 < info["Group variance"] < 2.0  # simulated patient intercept variance 1
    assert "Group variance" in s.as_text()


def test_summary_text_and_frame():
    x, y, g = _regression(np.random.default_rng(5))
    s = fit_model("linear", "regression", x, y, g, ["a", "b", "c"]).summary("S/F on truth")
    text = s.as_text()
    assert "S/F on truth" in text and "cluster-robust" in text and "ci_low" in text
    assert s.as_frame().shape[0] == 4


def test_bad_model_options():
    x, y, g = _regression(np.random.default_rng(6), n_patients=10)
    with pytest.raises(InputError, match="--model"):
        fit_model("forest", "regression", x, y, g, ["a", "b", "c"])
    with pytest.raises(InputError, match="sf_model"):
        fit_model("linear", "regression", x, y, g, ["a", "b", "c"], sf_model="gee")


@pytest.mark.parametrize("model", ["linear", "penalized", "xgboost"])
def test_test_fold_outcomes_never_reach_the_model(model):
    """Changing the outcomes of rows cannot change those rows' out-of-fold predictions,
    while it does change other rows' predictions (so the check can fail)."""
    rng = np.random.default_rng(7)
    x, y, g = _regression(rng, n_patients=30)
    feats = pd.DataFrame(x, columns=["a", "b", "c"])
    rows = pd.DataFrame({"row_id": np.arange(len(y)), "patient_id": g})

    def run(yv):
        data = TaskData("sf", "regression", yv, g.astype(object), rows, {"p": feats})
        preds, fold_of, _ = _cross_validate(data, model, ["p"], folds=3, repeats=1, seed=0, n_jobs=1,
                                            fit_kw={"sf_model": "ols"}, progress=_Progress(False, 0, 0))
        return preds["p"][0], fold_of[0]

    base, fold_of = run(y)
    y2 = y.copy()
    in_fold0 = fold_of == 0
    y2[in_fold0] += rng.normal(0, 50, in_fold0.sum())
    moved, _ = run(y2)
    np.testing.assert_array_equal(base[in_fold0], moved[in_fold0])
    assert not np.allclose(base[~in_fold0], moved[~in_fold0])


def test_mixedlm_non_convergence_is_a_warning_in_the_results(caplog):
    """A MixedLM at the boundary (no residual spread) says so in its notes, summary and log."""
    rng = np.random.default_rng(0)
    g = np.repeat(np.arange(8), 2)
    x = rng.normal(size=(16, 1))
    y = 2 * x[:, 0] + 1e-9 * rng.normal(size=16)
    with caplog.at_level("WARNING", logger="lusfeat.stats._models"):
        fm = fit_model("linear", "regression", x, y, g, ["a"], sf_model="mixedlm")
    assert any(n.startswith("warning: mixedlm fit: ConvergenceWarning") for n in fm.notes), fm.notes
    assert "ConvergenceWarning" in fm.summary().as_text()
    assert "ConvergenceWarning" in caplog.text


def test_ols_singular_design_is_a_warning_in_the_results():
    rng = np.random.default_rng(0)
    g = np.repeat(np.arange(20), 3)
    a = rng.normal(size=60)
    x = np.c_[a, a]  # two identical columns
    fm = fit_model("linear", "regression", x, a + rng.normal(size=60), g, ["a", "b"], max_features=2)
    assert any(n.startswith("warning: ols-cluster fit:") for n in fm.notes), fm.notes


def test_repeated_fit_warnings_are_logged_once_with_their_count(caplog):
    from lusfeat.stats._models import collected_fit_warnings

    rng = np.random.default_rng(0)
    g = np.repeat(np.arange(20), 3)
    a = rng.normal(size=60)
    x = np.c_[a, a]
    with caplog.at_level("WARNING", logger="lusfeat.stats._models"):
        with collected_fit_warnings("analysis") as counts:
            fits = [fit_model("linear", "regression", x, a + rng.normal(size=60), g, ["a", "b"], max_features=2)
                    for _ in range(3)]
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and lines[0].startswith("ols-cluster fit:") and lines[0].endswith("(3 analysis fits)")
    assert sum(counts.values()) == 3
    assert all(any(n.startswith("warning: ols-cluster fit:") for n in f.notes) for f in fits)  # notes keep them


def test_a_clean_ols_fit_has_no_warning_notes():
    rng = np.random.default_rng(1)
    g = np.repeat(np.arange(30), 2)
    x = rng.normal(size=(60, 2))
    fm = fit_model("linear", "regression", x, x[:, 0] + rng.normal(size=60), g, ["a", "b"])
    assert not [n for n in fm.notes if n.startswith("warning:")]


def test_fitted_model_is_abstract_and_every_fit_predicts():
    import inspect

    import lusfeat.stats._fitted as fitted

    with pytest.raises(TypeError, match="abstract"):
        fitted.FittedModel("linear", "ols", "regression", [], np.array([], dtype=int), None)
    concrete = [c for _, c in inspect.getmembers(fitted, inspect.isclass)
                if issubclass(c, fitted.FittedModel) and c is not fitted.FittedModel]
    assert {c.__name__ for c in concrete} >= {"LinearFit", "LogitFit", "EstimatorFit", "XGBoostFit"}
    assert all(not inspect.isabstract(c) for c in concrete)
