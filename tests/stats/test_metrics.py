"""Vectorised weighted metrics against scikit-learn/scipy on expanded samples."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from sklearn import metrics as skm

from lusfeat.stats import _metrics as M
from lusfeat.stats import evaluate, metric_names


def _binary(seed, n=80):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n).astype(float)
    y[:2] = [0, 1]
    p = np.round(np.clip(0.35 * y + rng.uniform(0, 0.65, n), 0.001, 0.999), 2)  # ties on purpose
    return y, p


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_binary_metrics_equal_sklearn_on_resampled_rows(seed):
    y, p = _binary(seed)
    idx = np.random.default_rng(seed + 1).integers(0, y.size, y.size)
    idx[:2] = [0, 1]  # keep both classes
    w = np.bincount(idx, minlength=y.size)[None].astype(float)
    yy, pp = y[idx], p[idx]
    assert M.auc(y, p, w)[0] == pytest.approx(skm.roc_auc_score(yy, pp), abs=1e-12)
    assert M.auprc(y, p, w)[0] == pytest.approx(skm.average_precision_score(yy, pp), abs=1e-12)
    assert M.balanced_accuracy(y, p, w)[0] == pytest.approx(skm.balanced_accuracy_score(yy, pp >= 0.5))
    assert M.f1(y, p, w)[0] == pytest.approx(skm.f1_score(yy, pp >= 0.5))
    assert M.brier(y, p, w)[0] == pytest.approx(skm.brier_score_loss(yy, pp))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_regression_metrics_equal_scipy_on_resampled_rows(seed):
    rng = np.random.default_rng(seed)
    y = np.round(rng.normal(size=60), 1)
    p = np.round(y + rng.normal(size=60), 1)
    idx = rng.integers(0, 60, 60)
    w = np.bincount(idx, minlength=60)[None].astype(float)
    yy, pp = y[idx], p[idx]
    assert M.mae(y, p, w)[0] == pytest.approx(skm.mean_absolute_error(yy, pp))
    assert M.rmse(y, p, w)[0] == pytest.approx(np.sqrt(skm.mean_squared_error(yy, pp)))
    assert M.r2(y, p, w)[0] == pytest.approx(skm.r2_score(yy, pp))
    assert M.pearson(y, p, w)[0] == pytest.approx(stats.pearsonr(yy, pp)[0])
    assert M.spearman(y, p, w)[0] == pytest.approx(stats.spearmanr(yy, pp)[0])


def test_calibration_matches_statsmodels_glm():
    import statsmodels.api as sm

    y, p = _binary(3, 300)
    lp = M._logit(p)
    w = np.ones((1, y.size))
    full = sm.GLM(y, sm.add_constant(lp), family=sm.families.Binomial()).fit()
    offset = sm.GLM(y, np.ones((y.size, 1)), family=sm.families.Binomial(), offset=lp).fit()
    assert M.calibration_slope(y, p, w)[0] == pytest.approx(full.params[1], abs=1e-8)
    assert M.calibration_intercept(y, p, w)[0] == pytest.approx(offset.params[0], abs=1e-8)


def test_perfectly_calibrated_probabilities_give_slope_one_intercept_zero():
    rng = np.random.default_rng(0)
    p = rng.uniform(0.05, 0.95, 20_000)
    y = (rng.random(p.size) < p).astype(float)
    w = np.ones((1, p.size))
    assert M.calibration_slope(y, p, w)[0] == pytest.approx(1.0, abs=0.08)
    assert M.calibration_intercept(y, p, w)[0] == pytest.approx(0.0, abs=0.05)


def test_multiclass_metrics_equal_sklearn():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 150)
    logits = rng.normal(size=(150, 3)) + 1.5 * np.eye(3)[y]
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    vals = dict(zip(metric_names("multiclass"), evaluate("multiclass", y.astype(float), p)[:, 0], strict=True))
    assert vals["auc_ovr"] == pytest.approx(skm.roc_auc_score(y, p, multi_class="ovr", average="macro"))
    assert vals["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, p.argmax(1)))
    assert vals["f1_macro"] == pytest.approx(skm.f1_score(y, p.argmax(1), average="macro"))
    assert vals["brier"] == pytest.approx(np.mean(((p - np.eye(3)[y]) ** 2).sum(1)))


def test_evaluate_shapes_and_many_rows():
    y, p = _binary(5)
    w = np.random.default_rng(0).poisson(1.0, (7, y.size)).astype(float)
    out = evaluate("binary", y, p, w)
    assert out.shape == (len(metric_names("binary")), 7)
    for b in range(7):
        assert out[0, b] == pytest.approx(M.auc(y, p, w[b : b + 1])[0])
