"""Aggregation rules on a hand-built frame table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


def _random_frames(seed: int, n_clips: int, interleave: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 6, n_clips)
    clip = np.repeat(np.arange(n_clips), sizes)
    if interleave:  # frames of several clips mixed in array order (a cohort written by another tool)
        clip = clip[rng.permutation(len(clip))]
    df = pd.DataFrame({"patient_id": [f"P{c % 3}" for c in clip], "exam_id": [f"E{c % 5}" for c in clip],
                       "zone": [f"R{c % 2}" for c in clip], "clip_id": [f"C{c}" for c in clip]})
    df["frame_index"] = df.groupby("clip_id").cumcount()
    for f in DICTIONARY.names("frame"):
        v = rng.normal(size=len(df)) * 10.0 ** rng.integers(-3, 4)
        v[rng.random(len(df)) < 0.2] = np.nan
        v[rng.random(len(df)) < 0.2] = 0.0
        df[f] = v
    return df


@given(seed=st.integers(0, 10_000), n_clips=st.integers(1, 25), interleave=st.booleans(),
       cuts=st.lists(st.integers(0, 120), max_size=6))
@settings(max_examples=25, deadline=None)
def test_clip_aggregator_equals_the_whole_table_bit_for_bit(seed, n_clips, interleave, cuts):
    from lusfeat.features._aggregate import ClipAggregator, levels_from_clips

    frames = _random_frames(seed, n_clips, interleave)
    bounds = sorted({0, len(frames), *(c for c in cuts if c < len(frames))})
    agg = ClipAggregator(frames)
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        agg.add(frames.iloc[lo:hi])
    streamed = levels_from_clips(*agg.result())
    whole = aggregate_levels(frames)
    for level in ("clip", "zone", "exam", "exam_wide", "patient"):
        pd.testing.assert_frame_equal(streamed[level], whole[level], check_exact=True)
    if not interleave:  # contiguous clips: at most one piece and one clip's frames held
        longest = max(hi - lo for lo, hi in zip(bounds[:-1], bounds[1:], strict=True))
        assert agg.held_max <= longest + frames.groupby("clip_id").size().max()


def test_clip_aggregator_refuses_a_short_table():
    from lusfeat.features._aggregate import ClipAggregator

    frames = _random_frames(0, 4, False)
    agg = ClipAggregator(frames)
    agg.add(frames.iloc[:-1])
    with pytest.raises(ValueError, match="frames were added"):
        agg.result()


def test_long_tables_written_column_by_column_equal_the_melted_ones(tmp_path):
    from lusfeat.features._aggregate import (
        LEVEL_KEYS,
        _clip_level,
        _frame_features,
        to_long,
        wide_levels,
        write_long,
    )

    frames = _random_frames(5, 12, True)
    clinical = pd.DataFrame({"exam_id": [f"E{k}" for k in range(5)], "day": [4, 0, 2, 1, 3]})
    for level, (wide, names) in wide_levels(*_clip_level(frames, _frame_features()), clinical).items():
        write_long(tmp_path / f"{level}.parquet", wide, LEVEL_KEYS[level], names)
        to_long(wide, LEVEL_KEYS[level], names).to_parquet(tmp_path / f"{level}_ref.parquet", index=False)
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / f"{level}.parquet"),
                                      pd.read_parquet(tmp_path / f"{level}_ref.parquet"), check_exact=True)
