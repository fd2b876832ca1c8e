"""``lusfeat analyze`` and ``lusfeat power`` through the installed console script."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def _lusfeat(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    exe = shutil.which("lusfeat") or str(Path(sys.executable).with_name("lusfeat"))
    return subprocess.run([exe, *args], capture_output=True, text=True, cwd=cwd, timeout=600,
                          env={"OMP_NUM_THREADS": "1", "PATH": str(Path(sys.executable).parent),
                               "COLUMNS": "200", "HOME": str(Path.home())})


@pytest.fixture(scope="module")
def tiny_features(tiny_cohort, tmp_path_factory) -> Path:
    from lusfeat.features import extract

    out = tmp_path_factory.mktemp("feats") / "truth"
    extract(tiny_cohort, "truth", out, backend="cpu", progress=False)
    return out


def _no_traceback(r: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in r.stderr + r.stdout, r.stderr


def test_analyze_without_exam_table_names_the_file(tiny_cohort, tiny_features, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    shutil.copy(tiny_features / "features.json", broken / "features.json")
    r = _lusfeat("analyze", str(broken), "--cohort", str(tiny_cohort), "--out", str(tmp_path / "a"))
    assert r.returncode == 1
    _no_traceback(r)
    assert "exam_wide.parquet is missing" in r.stderr and "lusfeat features" in r.stderr
    assert not (tmp_path / "a").exists()


def test_analyze_refuses_features_of_another_cohort(tiny_features, tmp_path):
    from lusfeat.data import simulate_cohort

    other = simulate_cohort(tmp_path / "other", patients=6, exams=(2, 3), zones=6, frames=2, size=64,
                            probe="mixed", annotators=3, seed=8)
    r = _lusfeat("analyze", str(tiny_features), "--cohort", str(other), "--out", str(tmp_path / "a"))
    assert r.returncode == 1
    _no_traceback(r)
    assert "another cohort" in r.stderr and "--allow-foreign" in r.stderr
    assert not (tmp_path / "a").exists()
    r = _lusfeat("analyze", str(tiny_features), "--cohort", str(other), "--out", str(tmp_path / "b"),
                 "--allow-foreign", "--task", "sf", "--model", "linear", "--folds", "2", "--min-events", "2",
                 "--bootstrap", "50", "--repeats", "1", "--no-progress")
    assert r.returncode == 0, r.stderr
    meta = json.loads((tmp_path / "b" / "analysis.json").read_text())
    assert list(meta["foreign"]) == ["truth"] and meta["options"]["allow_foreign"] is True


def test_analyze_with_nothing_computable_fails_and_partial_runs_say_so(tiny_cohort, tiny_features, tmp_path):
    r = _lusfeat("analyze", str(tiny_features), "--cohort", str(tiny_cohort), "--out", str(tmp_path / "a"),
                 "--task", "readmission", "--min-events", "2", "--no-progress")
    assert r.returncode == 1
    _no_traceback(r)
    assert "nothing could be computed" in r.stderr and "readmission" in r.stderr
    assert not (tmp_path / "a").exists()
    r = _lusfeat("analyze", str(tiny_features), "--cohort", str(tiny_cohort), "--out", str(tmp_path / "b"),
                 "--task", "sf", "--task", "readmission", "--min-events", "2", "--repeats", "1",
                 "--bootstrap", "50", "--model", "linear", "--no-progress")
    assert r.returncode == 0, r.stderr
    _no_traceback(r)
    assert "Comparison plan" in r.stdout and "sf: primary metric mae" in r.stdout
    line = [ln for ln in r.stdout.splitlines() if "tasks ran" in ln]
    assert len(line) == 1 and "skipped:" in line[0]
    assert (tmp_path / "b" / "plan.json").exists()


def test_analyze_min_events_on_four_patients_is_a_clear_error(tmp_path):
    from lusfeat.data import simulate_cohort
    from lusfeat.features import extract

    c = simulate_cohort(tmp_path / "c", patients=4, exams=(2, 3), zones=6, frames=1, size=32, seed=1)
    extract(c, "truth", tmp_path / "f", backend="cpu", progress=False)
    r = _lusfeat("analyze", str(tmp_path / "f"), "--cohort", str(c), "--out", str(tmp_path / "a"),
                 "--min-events", "2", "--no-progress")
    assert r.returncode == 1
    _no_traceback(r)
    assert "--folds" in r.stderr and "--min-events" in r.stderr


def test_power_help_and_a_tiny_run(tmp_path):
    r = _lusfeat("power", "--help")
    assert r.returncode == 0 and "--sizes" in r.stdout and "Examples" in r.stdout
    out = tmp_path / "pw"
    r = _lusfeat("power", "--out", str(out), "--sizes", "8,12", "--replicates", "2", "--pool", "14",
                 "--frame-size", "32", "--jobs", "1", "--bootstrap", "50", "--folds", "3",
                 "--min-events", "2", "--no-progress")
    assert r.returncode == 0, r.stderr
    _no_traceback(r)
    assert "Power by simulation: truth vs labels:10" in r.stdout and "n =   12" in r.stdout
    assert {p.name for p in out.iterdir()} >= {"power.csv", "power.png", "power.json"}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    r = _lusfeat("power", "--out", str(tmp_path / "bad"), "--sizes", "forty")
    assert r.returncode == 1
    _no_traceback(r)
    assert "--sizes must be comma-separated" in r.stderr
