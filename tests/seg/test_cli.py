import json

import pandas as pd
from typer.testing import CliRunner

from lusfeat.cli import app
from lusfeat.data import open_cohort, open_masks

runner = CliRunner()


def test_train_segment_evaluate_end_to_end(tiny_cohort, tmp_path):
    run = tmp_path / "run"
    r = runner.invoke(app, ["train", str(tiny_cohort), "--out", str(run), "--strategy", "ignore:40-60",
                            "--folds", "2", "--epochs", "1", "--size", "32", "--depth", "2", "--width", "4",
                            "--threads", "1", "--no-progress"])
    assert r.exit_code == 0, r.output
    assert str(run) in r.output
    meta = json.loads((run / "run.json").read_text())
    assert meta["strategy_name"] == "ignore-40-60" and meta["folds"] == 2

    # cross-fitting on the simulated cohort: no model saw a patient of its own fold
    folds = pd.read_parquet(run / "folds.parquet")
    splits = pd.read_parquet(run / "splits.parquet")
    merged = splits.merge(folds, on="patient_id")
    assert (merged.loc[merged["model"] == merged["fold"], "role"] == "test").all()
    assert set(folds["patient_id"]) == set(open_cohort(tiny_cohort).frames["patient_id"].astype(str))

    r = runner.invoke(app, ["segment", str(tiny_cohort), str(run), "--no-progress", "--threads", "1"])
    assert r.exit_code == 0, r.output
    assert "frames/s" in r.output
    masks = open_masks(run / "masks")
    assert masks.meta["out_of_fold"] and masks.n_frames == open_cohort(tiny_cohort).n_frames

    r = runner.invoke(app, ["evaluate", str(tiny_cohort), str(run / "masks"), "--bootstrap", "20",
                            "--no-progress"])
    assert r.exit_code == 0, r.output
    assert "labels:60" in r.output and "ECE" in r.output
    summary = pd.read_parquet(run / "masks" / "evaluation" / "summary.parquet")
    assert {"truth", "labels:50", "labels:100", "confidence"} <= set(summary["reference"])
    assert list(summary.columns[:6]) == ["reference", "class", "metric", "estimate", "ci_low", "ci_high"]


def test_cli_errors_are_one_line(tiny_cohort, tmp_path):
    r = runner.invoke(app, ["train", str(tiny_cohort), "--out", str(tmp_path / "r"), "--strategy", "median:5"])
    assert r.exit_code != 0
    assert "cannot parse strategy" in str(r.exception)
    r = runner.invoke(app, ["segment", str(tiny_cohort), str(tmp_path / "missing")])
    assert r.exit_code != 0 and "not a run folder" in str(r.exception)
