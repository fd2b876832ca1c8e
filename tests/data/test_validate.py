"""``validate``: each problem is caught on a corrupted copy and named with its fix."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from lusfeat import ValidationError
from lusfeat.cli import app
from lusfeat.data import validate_cohort


@pytest.fixture()
def copy(tiny_cohort, tmp_path):
    dst = tmp_path / "c"
    shutil.copytree(tiny_cohort, dst)
    return dst


def _edit_table(path, name, fn):
    df = pd.read_parquet(path / name)
    df = fn(df)
    df.to_parquet(path / name, index=False)


def test_valid_cohort_summary(tiny_cohort):
    s = validate_cohort(tiny_cohort)
    assert s.counts["patients"] == 6 and s.counts["annotators"] == 3
    assert s.prevalence.loc["pleural_line", "truth_frames"] > 0.9
    assert s.confidence_hist.index.tolist() == list(range(10, 101, 10))
    assert s.confidence_hist.sum() > 0
    text = s.to_text()
    assert "6 patients" in text and "sf_ratio" in text


def _set(df, col, row, value):
    df = df.copy()
    df[col] = df[col].astype(object) if isinstance(value, str) else df[col]
    df.loc[row, col] = value
    return df


CASES = [
    ("missing images array", lambda p: shutil.rmtree(p / "arrays.zarr" / "images"), "images"),
    ("unknown format version", lambda p: _meta(p, format_version=7), "format_version 7"),
    (
        "extra frame row",
        lambda p: _edit_table(p, "frames.parquet", lambda d: pd.concat([d, d.iloc[[0]].assign(frame_id="extra")])),
        "rows but the arrays hold",
    ),
    (
        "duplicate frame id",
        lambda p: _edit_table(p, "frames.parquet", lambda d: _set(d, "frame_id", 1, d["frame_id"].iloc[0])),
        "duplicate frame_id",
    ),
    ("exam without clinical row", lambda p: _edit_table(p, "clinical.parquet", lambda d: d.iloc[1:]), "no clinical row"),
    ("spo2 out of range", lambda p: _edit_table(p, "clinical.parquet", lambda d: _set(d, "spo2", 0, 30.0)), "spo2=30"),
    ("fio2 out of range", lambda p: _edit_table(p, "clinical.parquet", lambda d: _set(d, "fio2", 0, 21.0)), "fio2=21"),
    (
        "sf inconsistent",
        lambda p: _edit_table(p, "clinical.parquet", lambda d: _set(d, "sf_ratio", 0, d["sf_ratio"].iloc[0] * 1.5)),
        "recompute sf_ratio",
    ),
    ("non-finite age", lambda p: _edit_table(p, "clinical.parquet", lambda d: _set(d, "age", 0, np.inf)), "age"),
    ("confidence above 100", lambda p: _poke_confidence(p, 150), "150 > 100"),
    ("corrupt chunk", lambda p: _corrupt_chunk(p), "corrupt"),
    (
        "missing column",
        lambda p: _edit_table(p, "frames.parquet", lambda d: d.drop(columns=["zone"])),
        "missing columns",
    ),
]


def _meta(p, **kw):
    m = json.loads((p / "cohort.json").read_text())
    m.update(kw)
    (p / "cohort.json").write_text(json.dumps(m))


def _poke_confidence(p, value):
    import zarr

    arr = zarr.open_group(str(p / "arrays.zarr"), mode="r+")["confidence"]
    block = arr[3]
    block[1, 2, 5, 5] = value
    arr[3] = block


def _corrupt_chunk(p):
    chunks = sorted((p / "arrays.zarr" / "confidence").rglob("*"))
    target = [c for c in chunks if c.is_file() and c.name != "zarr.json"][0]
    target.write_bytes(b"not a blosc chunk")


@pytest.mark.parametrize("name, corrupt, match", CASES, ids=[c[0] for c in CASES])
def test_each_problem_is_reported(copy, name, corrupt, match):
    corrupt(copy)
    with pytest.raises(ValidationError) as info:
        validate_cohort(copy)
    assert match in str(info.value), str(info.value)


def test_problems_are_collected(copy):
    _edit_table(copy, "clinical.parquet", lambda d: _set(_set(d, "spo2", 0, 30.0), "fio2", 1, 1.5))
    with pytest.raises(ValidationError) as info:
        validate_cohort(copy)
    assert len(info.value.problems) >= 2


def test_cli_validate_exit_codes(tiny_cohort, copy):
    r = CliRunner().invoke(app, ["validate", str(tiny_cohort)])
    assert r.exit_code == 0, r.output
    assert "valid" in r.output
    _edit_table(copy, "clinical.parquet", lambda d: _set(d, "fio2", 0, 40.0))
    r = CliRunner().invoke(app, ["validate", str(copy)])
    assert r.exit_code != 0
    assert isinstance(r.exception, ValidationError) and "fraction" in str(r.exception)
