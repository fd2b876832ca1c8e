"""Sweep end to end on a tiny cohort: tables, cache, resume after interruption, dry run."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from lusfeat import InputError
from lusfeat.cli import app
from lusfeat.data import simulate_cohort
from lusfeat.pipeline import SweepConfig, plan_sweep, run_sweep

TINY = SweepConfig(
    strategies=("threshold:50", "soft"), baseline="threshold:50", thresholds=(50, 80), seeds=1, seed=0,
    folds=2, epochs=1, batch_size=16, size=32, depth=2, width=4, device="cpu", threads=1,
    eval_bootstrap=20, analysis_folds=2, analysis_repeats=1, analysis_bootstrap=30, models=("linear",),
)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    return simulate_cohort(tmp_path_factory.mktemp("c") / "c", patients=14, exams=(2, 3), zones=6, frames=1,
                           size=32, seed=3)


@pytest.fixture(scope="module")
def study(cohort, tmp_path_factory):
    out = tmp_path_factory.mktemp("s") / "study"
    run_sweep(cohort, out, TINY, progress=False)
    return out


def test_results_structure(study):
    meta = json.loads((study / "study.json").read_text())
    assert meta["status"] == "complete"
    assert set(meta["pipelines"]) == {"threshold-50", "soft", "labels-50", "labels-80", "truth"}
    assert meta["best"] in {"threshold-50", "soft"}
    kinds = {s["kind"] for s in meta["stages"]}
    assert kinds == {"train", "segment", "evaluate", "features", "analysis", "labelmasks"}
    assert all(s["seconds"] is not None for s in meta["stages"])
    seg = pd.read_parquet(study / "tables" / "segmentation.parquet")
    assert set(seg["pipeline"]) == {"threshold-50", "soft", "labels-50", "labels-80"}
    lab = seg[(seg["pipeline"] == "labels-80") & (seg["reference"] == "labels:80") & (seg["metric"] == "dice")]
    assert np.allclose(lab["estimate"], 1.0)  # a label mask equals its own reference
    assert {"truth", "labels:50", "labels:80"} <= set(seg["reference"])
    dice = seg[seg["metric"] == "dice"]["estimate"]
    assert dice.between(0, 1).all()
    down = pd.read_parquet(study / "tables" / "downstream.parquet")
    assert "vs-threshold-50" in set(down["analysis"])
    metrics = down[down["kind"] == "metric"]
    assert {"threshold-50", "soft", "truth"} <= set(metrics["pipeline"])
    comp = down[down["kind"] == "comparison"]
    if len(comp):
        p = comp["p"].dropna()
        assert p.between(0, 1).all()
        assert (comp["p_holm"].dropna() >= p.loc[comp["p_holm"].dropna().index] - 1e-12).all()
    for col in ("masks/threshold-50", "features/truth", "runs/soft"):
        assert (study / col).is_dir()


def test_rerun_is_cached(cohort, study):
    plan = plan_sweep(cohort, study, TINY)
    assert all(s.cached for s in plan.stages)
    before = (study / "tables" / "segmentation.parquet").read_bytes()
    run_sweep(cohort, study, TINY, progress=False)
    meta = json.loads((study / "study.json").read_text())
    assert all(s["cached"] for s in meta["stages"])
    assert (study / "tables" / "segmentation.parquet").read_bytes() == before


def test_option_change_invalidates_downstream_only(cohort, study):
    changed = replace(TINY, analysis_bootstrap=31)
    plan = plan_sweep(cohort, study, changed)
    status = {s.id: s.cached for s in plan.stages}
    assert status["train/soft"] and status["features/truth"]
    assert not status["analysis/vs-threshold-50"]
    changed = replace(TINY, epochs=2)
    status = {s.id: s.cached for s in plan_sweep(cohort, study, changed).stages}
    assert not status["train/soft"] and not status["segment/soft"] and not status["features/soft"]
    assert status["features/truth"] and status["features/labels-50"]


def test_threads_are_part_of_the_training_key(cohort, study):
    """CPU training depends on the thread count (reduction order), so the cache does too."""
    status = {s.id: s.cached for s in plan_sweep(cohort, study, replace(TINY, threads=2)).stages}
    assert not status["train/soft"] and not status["segment/soft"]
    assert status["features/truth"] and status["labelmasks/labels-50"]


def test_training_options_without_a_sweep_flag_join_the_training_key_only_when_set(cohort, study):
    """A default lr keeps the cached trainings (their keys did not change); another lr retrains."""
    assert all(s.cached for s in plan_sweep(cohort, study, replace(TINY, lr=1e-2)).stages)
    status = {s.id: s.cached for s in plan_sweep(cohort, study, replace(TINY, lr=3e-3)).stages}
    assert not status["train/soft"] and status["features/truth"]


def test_resume_after_interruption_gives_same_tables(cohort, study, tmp_path, monkeypatch):
    import lusfeat.features as feats

    real = feats.extract
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    out = tmp_path / "study"
    monkeypatch.setattr(feats, "extract", flaky)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(cohort, out, TINY, progress=False)
    assert not list(out.rglob(".*.tmp-*")), "no partial outputs may remain"
    monkeypatch.setattr(feats, "extract", real)
    plan = plan_sweep(cohort, out, TINY)
    done = [s.id for s in plan.stages if s.cached]
    assert "train/threshold-50" in done and "features/threshold-50" in done
    run_sweep(cohort, out, TINY, progress=False)
    for name in ("segmentation", "downstream"):
        a = pd.read_parquet(study / "tables" / f"{name}.parquet")
        b = pd.read_parquet(out / "tables" / f"{name}.parquet")
        pd.testing.assert_frame_equal(a, b)


def test_sweep_on_a_local_cluster_gives_the_same_tables(cohort, study, tmp_path):
    out = tmp_path / "study"
    run_sweep(cohort, out, TINY, scheduler="local:2", progress=False)
    for name in ("segmentation", "downstream", "seeds"):
        a = pd.read_parquet(study / "tables" / f"{name}.parquet")
        b = pd.read_parquet(out / "tables" / f"{name}.parquet")
        pd.testing.assert_frame_equal(a, b)
    meta = json.loads((out / "study.json").read_text())
    assert meta["status"] == "complete" and not any(s["cached"] for s in meta["stages"])
    # the cache stays the one source of truth: a rerun finds everything done (no cluster needed)
    run_sweep(cohort, out, TINY, scheduler="local:2", progress=False)
    assert all(s["cached"] for s in json.loads((out / "study.json").read_text())["stages"])


def test_bad_scheduler_is_refused_before_any_work(cohort, tmp_path):
    with pytest.raises(InputError, match="--scheduler"):
        run_sweep(cohort, tmp_path / "s", TINY, scheduler="local:none", progress=False)
    assert not (tmp_path / "s").exists()


def test_dry_run_and_cli(cohort, study, tmp_path):
    r = CliRunner().invoke(
        app,
        ["sweep", str(cohort), "--out", str(study), "--strategies", "threshold:50", "--strategies", "soft",
         "--thresholds", "50,80", "--folds", "2", "--epochs", "1", "--size", "32", "--depth", "2", "--width", "4",
         "--eval-bootstrap", "20", "--analysis-folds", "2", "--analysis-repeats", "1", "--analysis-bootstrap",
         "30", "--dry-run"],
    )
    assert r.exit_code == 0, r.output
    assert "sweep plan" in r.output and "to run" in r.output  # models differ (default both) -> analysis reruns
    assert not (tmp_path / "x").exists()
    r = CliRunner().invoke(app, ["sweep", str(cohort), "--out", str(tmp_path / "x"), "-s", "threshold:200", "--dry-run"])
    assert r.exit_code != 0 and isinstance(r.exception, InputError)


def test_strategy_list_expansion():
    from lusfeat._commands.pipeline import _split

    assert _split(["threshold:50,60", "soft", "ignore:40-60"]) == ("threshold:50", "threshold:60", "soft", "ignore:40-60")


def test_not_a_study_folder(cohort, tmp_path):
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "file.txt").write_text("x")
    with pytest.raises(InputError, match="not a lusfeat study"):
        run_sweep(cohort, tmp_path / "other", TINY, progress=False)
