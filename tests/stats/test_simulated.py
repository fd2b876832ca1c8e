"""Against the simulator: features from truth masks carry the effects the simulator put in.

The cohort is simulated, features are extracted by ``lusfeat.features`` from the
truth masks and from low-threshold labels (mean annotator confidence >= 10%), and
``analyze`` reads the feature folders as a user would.
"""

from __future__ import annotations

import numpy as np
import pytest

from lusfeat.stats import analyze

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sim_root(tmp_path_factory):
    """A simulated cohort and feature folders from truth masks and labels:10."""
    from lusfeat.data import simulate_cohort
    from lusfeat.features import extract

    root = tmp_path_factory.mktemp("stats_sim")
    cohort = simulate_cohort(root / "cohort", patients=80, exams=(2, 3), zones=6, frames=1, size=64, seed=0)
    extract(cohort, "truth", root / "truth", backend="cpu", progress=False)
    extract(cohort, "labels:10", root / "labels10", backend="cpu", progress=False)
    return root


@pytest.fixture(scope="module")
def simulated(sim_root):
    from lusfeat.features import read_features

    exams = read_features(sim_root / "truth", level="exam")
    # A pipeline without signal: the truth features of another exam (exams shuffled).
    rng = np.random.default_rng(0)
    shuffled = exams.copy()
    cols = [c for c in exams.columns if c not in ("exam_id", "patient_id")]
    shuffled[cols] = exams[cols].to_numpy()[rng.permutation(len(exams))]
    return analyze(sim_root / "truth", sim_root / "cohort",
                   compare={"labels10": sim_root / "labels10", "shuffled": shuffled},
                   tasks=("sf", "readmission"), folds=3, repeats=1, bootstrap=300, progress=False)


def _row(res, **kw):
    r = res.results
    for k, v in kw.items():
        r = r[r[k] == v]
    assert len(r) == 1, kw
    return r.iloc[0]


def test_feature_folders_are_read_and_named(simulated):
    assert list(simulated.meta["pipelines"]) == ["truth", "labels10", "shuffled"]
    assert simulated.meta["cohort"]["simulated"]


@pytest.mark.parametrize("model", ["linear", "xgboost"])
def test_truth_features_predict_sf_and_readmission(simulated, model):
    r2 = _row(simulated, task="sf", model=model, pipeline="truth", metric="r2", kind="metric", ci_method="bca")
    assert r2.ci_low > 0.3
    auc = _row(simulated, task="readmission", model=model, pipeline="truth", metric="auc", kind="metric",
               ci_method="bca")
    assert auc.estimate > 0.6


@pytest.mark.parametrize("model", ["linear", "xgboost"])
def test_truth_beats_features_without_signal(simulated, model):
    rmse = _row(simulated, task="sf", model=model, pipeline="shuffled", metric="rmse", kind="comparison")
    assert rmse.difference > 0 and rmse.p_holm < 0.05
    r2 = _row(simulated, task="sf", model=model, pipeline="shuffled", metric="r2", kind="metric",
              ci_method="bca")
    assert r2.estimate < 0.2


def test_readmission_signal_is_detected_by_the_linear_model(simulated):
    # 80 patients and ~25 events: out-of-fold AUCs of a no-signal model spread widely
    # (0.4-0.7 over shuffles), so only the truth pipeline's own CI is checked.
    auc = _row(simulated, task="readmission", model="linear", pipeline="truth", metric="auc",
               kind="metric", ci_method="bca")
    assert auc.ci_low > 0.5


def test_low_threshold_labels_are_not_better_than_truth(simulated):
    """Low-threshold labels add halos and false regions; on this small cohort the loss
    is small, so the check is that no comparison finds them significantly better."""
    c = simulated.results.query("kind == 'comparison' and pipeline == 'labels10'")
    lower_is_better = c["metric"].isin(["mae", "rmse", "brier"])
    better = np.where(lower_is_better, c["ci_high"] < 0, c["ci_low"] > 0)
    better &= c["metric"].isin(["mae", "rmse", "r2", "auc", "brier"]).to_numpy()
    assert not (better & (c["p_holm"] < 0.05).to_numpy()).any(), c[better]


def test_ols_recovers_the_simulator_sf_coefficients(sim_root):
    """S/F on the latent severity: OLS CIs contain the simulator's true intercept and slope."""
    import pandas as pd

    import lusfeat
    from lusfeat.stats import build_task, fit_model
    from lusfeat.stats._inputs import load_clinical, load_pipelines

    cohort = lusfeat.open_cohort(sim_root / "cohort")
    clinical, meta = load_clinical(cohort)
    sev = cohort.latent_severity()
    table = pd.DataFrame({"exam_id": sev.index, "severity": sev.to_numpy()}).merge(
        clinical[["exam_id", "patient_id"]])
    data = build_task("sf", clinical, load_pipelines({"latent": table}))
    fit = fit_model("linear", "regression", data.features["latent"].to_numpy(), data.y, data.groups,
                    ["severity"])
    true = meta["simulation"]["true_coefficients"]["sf_true"]
    t = fit.table
    assert t.loc["severity", "ci_low"] <= true["severity"] <= t.loc["severity", "ci_high"], t
    assert t.loc["const", "ci_low"] <= true["intercept"] <= t.loc["const", "ci_high"], t
