"""End-to-end analysis on a synthetic study with known effects, outputs and CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from lusfeat import InputError
from lusfeat.stats import RESULT_COLUMNS, analyze

FAST = {"folds": 3, "repeats": 1, "bootstrap": 300, "progress": False}


@pytest.fixture(scope="module")
def result(study):
    clin, feats, _ = study
    return analyze({"truth": feats["truth"]}, clin, compare={"noisy": feats["noisy"]},
                   tasks=("sf", "readmission"), **FAST)


def _metric(res, task, model, pipe, metric, ci_method="bca"):
    r = res.results
    row = r[(r.task == task) & (r.model == model) & (r.pipeline == pipe) & (r.metric == metric)
            & (r.kind == "metric") & (r.ci_method == ci_method)]
    assert len(row) == 1
    return row.iloc[0]


def test_results_table_is_tidy(result):
    r = result.results
    assert tuple(r.columns) == RESULT_COLUMNS
    assert set(r["task"]) == {"sf", "readmission"} and set(r["model"]) == {"xgboost", "linear", "penalized"}
    m = r[r.kind == "metric"]
    assert (m["ci_low"] <= m["estimate"] + 1e-12).all() and (m["estimate"] <= m["ci_high"] + 1e-12).all()
    assert set(m["ci_method"]) == {"bca", "percentile"}
    assert m["reference"].isna().all()
    c = r[r.kind == "comparison"]
    assert set(c["reference"]) == {"truth"} and set(c["pipeline"]) == {"noisy"}
    assert set(c["ci_method"]) == {"paired-bootstrap-percentile", "delong"}
    assert c["p"].between(0, 1).all()
    assert set(c["family"]) == {"confirmatory", "exploratory"}
    assert m["family"].isna().all() and m["primary"].dtype == bool


def test_truth_features_beat_noisy_features(result):
    """The design: truth features carry severity with little noise."""
    for model in ("linear", "xgboost", "penalized"):
        t = _metric(result, "sf", model, "truth", "rmse")
        n = _metric(result, "sf", model, "noisy", "rmse")
        assert t.estimate < n.estimate
        assert _metric(result, "sf", model, "truth", "r2").estimate > 0.5
    comp = result.results.query("kind == 'comparison' and task == 'sf' and metric == 'rmse'")
    assert (comp["difference"] > 0).all() and (comp["p"] < 0.05).all()


def test_plan_families_and_their_adjustments(result):
    """Confirmatory: each pipeline vs the reference on the primary metric (DeLong for AUC,
    bootstrap for MAE), Holm over that family only; everything else exploratory with BH
    within its own family."""
    from statsmodels.stats.multitest import multipletests

    c = result.results[result.results.kind == "comparison"]
    conf = c[c.family == "confirmatory"]
    assert set(zip(conf.task, conf.metric, conf.ci_method, strict=True)) == {
        ("sf", "mae", "paired-bootstrap-percentile"), ("readmission", "auc", "delong")}
    assert len(conf) == 3 * 2  # 2 tasks x 3 model families x 1 compared pipeline
    assert conf["primary"].all()
    np.testing.assert_allclose(conf["p_holm"], multipletests(conf["p"], method="holm")[1])
    expl = c[c.family == "exploratory"]
    assert expl["p_holm"].isna().all()
    np.testing.assert_allclose(expl["p_bh"], multipletests(expl["p"], method="fdr_bh")[1])
    assert len(expl) > 5 * len(conf)
    plan = result.plan
    assert plan.primary("sf") == "mae" and plan.primary("readmission") == "auc"
    assert len(plan.confirmatory_hypotheses()) == len(conf)
    text = str(result.summary())
    assert "Confirmatory comparisons" in text and "Exploratory comparisons" in text and "*mae" in text


def test_primary_override_and_best(study):
    clin, feats, _ = study
    mid = feats["truth"].copy()
    cols = [c for c in mid.columns if c not in ("exam_id", "patient_id")]
    mid[cols] = 0.5 * (feats["truth"][cols].to_numpy() + feats["noisy"][cols].to_numpy())
    res = analyze({"truth": feats["truth"]}, clin, compare={"noisy": feats["noisy"], "mid": mid},
                  tasks="sf", models="linear", primary=["sf=rmse"], best="mid", **FAST)
    conf = res.results.query("kind == 'comparison' and family == 'confirmatory'")
    assert set(conf["metric"]) == {"rmse"}
    assert sorted(zip(conf.pipeline, conf.reference, strict=True)) == [
        ("mid", "truth"), ("noisy", "mid"), ("noisy", "truth")]
    nm = conf.query("pipeline == 'noisy' and reference == 'mid'").iloc[0]
    nt = conf.query("pipeline == 'noisy' and reference == 'truth'").iloc[0]
    mt = conf.query("pipeline == 'mid' and reference == 'truth'").iloc[0]
    assert nm.difference == pytest.approx(nt.difference - mt.difference)
    with pytest.raises(InputError, match="--primary sf=auc"):
        analyze(feats["truth"], clin, tasks="sf", models="linear", primary="sf=auc", **FAST)
    with pytest.raises(InputError, match="TASK=METRIC"):
        analyze(feats["truth"], clin, tasks="sf", models="linear", primary="rmse", **FAST)
    with pytest.raises(InputError, match="--best"):
        analyze(feats["truth"], clin, tasks="sf", models="linear", best="nope", **FAST)


def test_delong_row_matches_direct_test(result, study):
    from lusfeat.stats import delong_test

    pred = result.predictions.query("task == 'readmission' and model == 'linear'")
    wide = pred.pivot_table(index="row_id", columns="pipeline", values="y_pred", aggfunc="mean")
    y = pred.groupby("row_id")["y_true"].first().reindex(wide.index)
    direct = delong_test(y.astype(int).to_numpy(), wide["truth"].to_numpy(), wide["noisy"].to_numpy())
    row = result.results.query("task == 'readmission' and model == 'linear' and ci_method == 'delong'")
    assert row["difference"].iloc[0] == pytest.approx(direct.difference, abs=1e-12)
    assert row["p"].iloc[0] == pytest.approx(direct.p, abs=1e-12)


def test_predictions_are_out_of_fold_and_complete(result):
    p = result.predictions
    assert {"task", "pipeline", "model", "repeat", "fold", "row_id", "patient_id", "y_true", "y_pred"} <= set(p.columns)
    assert p["y_pred"].notna().all() and (p["fold"] >= 0).all()
    per_patient_folds = p.groupby(["task", "pipeline", "model", "repeat", "patient_id"])["fold"].nunique()
    assert (per_patient_folds == 1).all()


def test_estimates_reproduce_with_the_same_seed(study):
    clin, feats, _ = study
    kw = {**FAST, "tasks": "readmission", "models": "xgboost", "bootstrap": 100}
    a = analyze(feats["truth"], clin, **kw).results
    b = analyze(feats["truth"], clin, **kw).results
    pd.testing.assert_frame_equal(a, b)


def test_writes_outputs_atomically(tmp_path, study):
    clin, feats, _ = study
    out = tmp_path / "analysis"
    res = analyze({"truth": feats["truth"], "noisy": feats["noisy"]}, clin, out=out,
                  tasks=("sf", "readmission"), models="linear", **FAST)
    assert res.out == out
    names = {p.name for p in out.iterdir()}
    assert {"results.parquet", "results.csv", "predictions.parquet", "summary.txt", "analysis.json",
            "plan.json", "summaries", "plots"} <= names
    plan = json.loads((out / "plan.json").read_text())
    assert plan["tasks"]["sf"]["primary"] == "mae" and plan["families"]["confirmatory"]["adjustment"] == "holm"
    back = pd.read_parquet(out / "results.parquet")
    assert len(back) == len(res.results)
    meta = json.loads((out / "analysis.json").read_text())
    assert meta["options"]["seed"] == 0 and meta["reference"] == "truth"
    assert set(meta["pipelines"]) == {"truth", "noisy"}
    assert all(len(v["fingerprint"]) == 16 for v in meta["pipelines"].values())
    plots = sorted(p.name for p in (out / "plots").iterdir())
    assert plots == ["readmission__linear__roc_calibration.png", "sf__linear__pred_vs_obs.png"]
    assert (out / "plots" / plots[0]).read_bytes()[:4] == b"\x89PNG"
    assert "OLS" in (out / "summaries" / "sf__truth__linear.txt").read_text()
    with pytest.raises(InputError, match="already exists"):
        analyze(feats["truth"], clin, out=out, tasks="sf", models="linear", **FAST)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_skips_are_reported_and_other_tasks_run(study):
    clin, feats, _ = study
    clin = clin.copy()
    clin["readmit_30d"] = 0
    bad = feats["truth"].assign(exam_id=lambda d: "X" + d["exam_id"])
    res = analyze(feats["truth"], clin, compare={"bad": bad}, tasks=("sf", "readmission"),
                  models="linear", **FAST)
    assert "too few events" in res.skipped["readmission"]
    assert "none of its" in res.skipped["pipeline bad"]
    assert set(res.results["task"]) == {"sf"}
    assert "skipped" in str(res.summary())
    with pytest.raises(InputError, match="none of its"):
        analyze(bad, clin, **FAST)


def test_three_class_change_and_mixedlm(change_study):
    clin, feats, _ = change_study
    res = analyze(feats["truth"], clin, tasks=["sf-change", "sf"], models="linear", change_classes=3,
                  sf_model="mixedlm", **FAST)
    m = res.results
    assert set(m.query("task == 'sf-change'")["metric"]) == {"auc_ovr", "balanced_accuracy", "f1_macro", "brier"}
    assert set(m.query("task == 'sf'")["method"]) == {"mixedlm"}
    assert {"prob_worsened", "prob_stable", "prob_improved"} <= set(res.predictions.columns)
    assert _metric(res, "sf-change", "linear", "features", "auc_ovr").estimate > 0.6


def test_bad_options(study):
    clin, feats, _ = study
    with pytest.raises(InputError, match="--task"):
        analyze(feats["truth"], clin, tasks="sfx", **FAST)
    with pytest.raises(InputError, match="--model"):
        analyze(feats["truth"], clin, models="forest", **FAST)
    with pytest.raises(InputError, match="--folds"):
        analyze(feats["truth"], clin, **{**FAST, "folds": 1})


def test_cli_end_to_end(tmp_path, study):
    from lusfeat.cli import app

    clin, feats, _ = study
    from lusfeat.data import CohortWriter

    cohort = tmp_path / "cohort"
    n = 1
    frames = pd.DataFrame({"frame_id": ["f0"], "patient_id": [clin.patient_id[0]],
                           "exam_id": [clin.exam_id[0]], "zone": ["R1"], "clip_id": ["c0"],
                           "frame_index": [0], "array_index": [0], "probe": ["linear"],
                           "pixel_spacing_mm": [0.2]})
    with CohortWriter(cohort, n, 8, 8, 1) as w:
        w.write(0, np.zeros((1, 8, 8), np.uint8), np.zeros((1, 1, 5, 8, 8), np.uint8))
        w.finish({"source": {"kind": "test"}}, frames, clin)
    a, b = tmp_path / "truth.parquet", tmp_path / "noisy.parquet"
    feats["truth"].to_parquet(a)
    feats["noisy"].to_parquet(b)
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["analyze", str(a), "--cohort", str(cohort), "--out", str(out),
                                   "--task", "readmission", "--model", "linear", "--compare", str(b),
                                   "--folds", "3", "--repeats", "1", "--bootstrap", "200",
                                   "--min-events", "5", "--no-progress"])
    assert res.exit_code == 0, res.output
    assert str(out) in res.output.replace("\n", "")
    r = pd.read_csv(out / "results.csv")
    assert set(r["pipeline"]) == {"truth", "noisy"}
    assert json.loads((out / "analysis.json").read_text())["options"]["min_events"] == 5
    res = CliRunner().invoke(app, ["analyze", str(a), "--cohort", str(cohort), "--out",
                                   str(tmp_path / "o2"), "--task", "nope"])
    assert res.exit_code != 0 and isinstance(res.exception, InputError)


def test_change_pairs_use_clustered_delong(change_study):
    """sf-change rows are pairs of exams; a patient with 3 exams gives 2 correlated rows."""
    clin, feats, _ = change_study
    res = analyze({"truth": feats["truth"]}, clin, compare={"noisy": feats["noisy"]}, tasks="sf-change",
                  models="linear", **FAST)
    conf = res.results.query("kind == 'comparison' and family == 'confirmatory'")
    assert list(conf["ci_method"]) == ["clustered-delong"] and list(conf["metric"]) == ["auc"]
    boot = res.results.query("kind == 'comparison' and metric == 'auc' and ci_method != 'clustered-delong'")
    assert list(boot["family"]) == ["exploratory"]


def test_unbuildable_stratified_folds_skip_or_fall_back(caplog):
    """A class with rows of fewer patients than folds: the task is skipped with the counts and
    the fixes, or runs on unstratified grouped folds with a warning when asked to."""
    from lusfeat.stats._analyze import _check_folds, _cross_validate, _Progress
    from lusfeat.stats._tasks import TaskData, TaskSkipped

    rng = np.random.default_rng(0)
    g = np.repeat(np.arange(12), 3).astype(object)
    y = np.repeat((np.arange(12) < 3).astype(float), 3)  # class 1: 3 patients, 9 rows
    feats = pd.DataFrame({"a": y + rng.normal(size=y.size), "b": rng.normal(size=y.size)})
    rows = pd.DataFrame({"row_id": np.arange(y.size), "patient_id": g, "exam_id": np.arange(y.size)})
    data = TaskData("sf-change", "binary", y, g, rows, {"p": feats}, classes=("improved", "worsened"))
    with pytest.raises(TaskSkipped) as err:
        _check_folds(data, 5, fallback=False)
    msg = str(err.value)
    assert "worsened: 3" in msg and "--folds" in msg and "--unstratified-fallback" in msg
    _check_folds(data, 5, fallback=True)
    with caplog.at_level("WARNING", logger="lusfeat.stats._cv"):
        preds, fold_of, _ = _cross_validate(data, "penalized", ["p"], folds=5, repeats=1, seed=0, n_jobs=1,
                                            fit_kw={"sf_model": "ols"}, progress=_Progress(False, 0, 0),
                                            fallback=True)
    assert "unstratified" in caplog.text and np.isfinite(preds["p"]).all() and (fold_of >= 0).all()


def test_one_exam_per_patient_leaves_nothing_for_sf_change():
    from lusfeat.testing._synthetic import synthetic_study

    clin, feats, _ = synthetic_study(40, exams=(1, 1), seed=2)
    with pytest.raises(InputError, match=r"nothing could be computed.*no pairs of consecutive usable exams"):
        analyze(feats["truth"], clin, tasks="sf-change", models="linear", **FAST)
