"""lusfeat.testing.compare_table_folders and benchmarks/compare_tables.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from lusfeat.testing import compare_table_folders

ROOT = Path(__file__).resolve().parents[1]


def _write(root: Path, rel: str, frame: pd.DataFrame) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path)


def _pair(tmp_path: Path) -> tuple[Path, Path]:
    a, b = tmp_path / "a", tmp_path / "b"
    t = pd.DataFrame({"exam": ["e1", "e2"], "b_line_count": [3, 0], "area": [1.5, np.nan], "seconds": [0.1, 0.2]})
    for root in (a, b):
        _write(root, "features/exam.parquet", t)
    _write(b, "features/exam.parquet", t.assign(seconds=[9.0, 9.0]))  # timings may differ
    return a, b


def test_identical_tables_apart_from_timings(tmp_path):
    a, b = _pair(tmp_path)
    assert compare_table_folders(a, b) == (1, [])


def test_a_changed_value_a_missing_table_and_a_new_column_are_reported(tmp_path):
    a, b = _pair(tmp_path)
    t = pd.read_parquet(b / "features/exam.parquet")
    _write(b, "features/exam.parquet", t.assign(area=[1.5000001, np.nan]))
    _write(a, "features/clip.parquet", t)
    _write(a, "eval/frames.parquet", t)
    _write(b, "eval/frames.parquet", t.assign(extra=1))
    n, diffs = compare_table_folders(a, b)
    assert n == 3
    got = {d.path: d.problem for d in diffs}
    assert got["features/clip.parquet"] == "only in A"
    assert got["features/exam.parquet"].startswith("column 'area': 1 value(s) differ")
    assert got["eval/frames.parquet"] == "columns differ: ['extra']"
    assert compare_table_folders(a, b, ignore=("features/*", "eval/*"))[1] == []


def test_the_script_exits_one_on_a_difference(tmp_path):
    a, b = _pair(tmp_path)
    script = str(ROOT / "benchmarks" / "compare_tables.py")
    same = subprocess.run([sys.executable, script, str(a), str(b)], capture_output=True, text=True)
    assert same.returncode == 0 and "1 of 1 tables identical" in same.stdout
    _write(b, "features/exam.parquet", pd.DataFrame({"exam": ["e1"]}))
    diff = subprocess.run([sys.executable, script, str(a), str(b)], capture_output=True, text=True)
    assert diff.returncode == 1 and "DIFFERS features/exam.parquet" in diff.stdout
