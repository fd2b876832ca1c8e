"""Aggregation rules on a hand-built frame table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lusfeat.features import DICTIONARY, aggregate_levels


def _frames() -> pd.DataFrame:
    rows = []
    # patient P1: exam E1 (day 0) zones R1 (2 clips) and L1; exam E2 (day 3) zone R1
    spec = [("E1", "R1", "c1", [0, 2]), ("E1", "R1", "c2", [4]), ("E1", "L1", "c3", [1, 1]),
            ("E2", "R1", "c4", [0, 0])]
    for exam, zone, clip, values in spec:
        for i, v in enumerate(values):
            rows.append({"patient_id": "P1", "exam_id": exam, "zone": zone, "clip_id": clip,
                         "frame_index": i, "b_line_count": float(v)})
    df = pd.DataFrame(rows)
    for f in DICTIONARY.names("frame"):
        if f not in df:
            df[f] = 0.0
    df["consolidation_depth_max"] = np.nan
    df["lus_score"] = df["b_line_count"].clip(upper=3)
    return df


def test_levels_follow_the_documented_rules():
    clinical = pd.DataFrame({"exam_id": ["E2", "E1"], "day": [3, 0]})
    lv = aggregate_levels(_frames(), clinical)
    clip = lv["clip"].set_index(["clip_id", "feature", "aggregate"])["value"]
    assert clip[("c1", "b_line_count", "mean")] == 1
    assert clip[("c1", "b_line_count", "max")] == 2
    assert clip[("c1", "b_line_count", "frac")] == 0.5
    zone = lv["zone"].set_index(["exam_id", "zone", "feature", "aggregate"])["value"]
    assert zone[("E1", "R1", "b_line_count", "mean")] == pytest.approx(2.5)  # mean of 1 and 4
    assert zone[("E1", "R1", "b_line_count", "max")] == 4
    assert zone[("E1", "R1", "b_line_count", "frac")] == pytest.approx(0.75)
    wide = lv["exam_wide"].set_index("exam_id")
    assert wide.loc["E1", "b_line_count_sum"] == pytest.approx(3.5)
    assert wide.loc["E1", "b_line_count_mean"] == pytest.approx(1.75)
    assert wide.loc["E1", "b_line_count_max"] == 4
    assert wide.loc["E1", "lus_score_sum"] == 4  # zone scores 3 (R1) + 1 (L1)
    assert wide.loc["E1", "lus_score_12zone"] == pytest.approx(24)
    assert np.isnan(wide.loc["E1", "consolidation_depth_max_max"])
    assert "b_line_blas_sum" not in wide.columns  # not additive
    pat = lv["patient"].set_index(["feature", "aggregate"])["value"]
    assert pat[("b_line_count_sum", "first")] == pytest.approx(3.5)
    assert pat[("b_line_count_sum", "last")] == 0
    assert pat[("b_line_count_sum", "change")] == pytest.approx(-3.5)
    assert lv["patient"]["first_exam_id"].iloc[0] == "E1"


def test_wide_exam_table_is_numeric_with_documented_columns():
    wide = aggregate_levels(_frames())["exam_wide"]
    assert list(wide.columns[:2]) == ["exam_id", "patient_id"]
    values = wide.columns[2:]
    assert all(wide[c].dtype == np.float64 for c in values)
    prefixes = ("pleural_line_", "a_line_", "b_line_", "consolidation_", "effusion_", "lus_")
    assert all(c.startswith(prefixes) for c in values)
