"""Cohort extraction, output folder and readers (pandas, polars, DuckDB)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lusfeat import InputError
from lusfeat.data import MaskWriter, open_cohort
from lusfeat.features import DICTIONARY, extract, read_features


@pytest.fixture(scope="module")
def truth_features(tiny_cohort, tmp_path_factory):
    return extract(tiny_cohort, "truth", tmp_path_factory.mktemp("f") / "truth",
                   backend="cpu", batch=50, progress=False)


def test_folder_layout_and_metadata(truth_features, tiny_cohort):
    names = {p.name for p in truth_features.iterdir()}
    assert {"features.json", "dictionary.csv", "components.parquet", "frame.parquet",
            "frame_wide.parquet", "clip.parquet", "zone.parquet", "exam.parquet",
            "exam_wide.parquet", "patient.parquet"} <= names
    meta = json.loads((truth_features / "features.json").read_text())
    assert meta["backend"] == "cpu" and meta["masks"]["source"] == "truth"
    assert meta["lengths_unit"] == "mm"
    assert meta["timings"]["frames_per_s"] > 0
    assert meta["cohort"]["n_frames"] == open_cohort(tiny_cohort).n_frames


def test_exam_table_joins_clinical(truth_features, tiny_cohort):
    c = open_cohort(tiny_cohort)
    exams = read_features(truth_features)
    assert exams["exam_id"].is_unique
    assert set(exams["exam_id"]) == set(c.clinical["exam_id"])
    table = exams.merge(c.clinical, on="exam_id")
    assert len(table) == len(exams)
    num = exams.drop(columns=["exam_id", "patient_id"])
    assert all(str(t) == "float64" for t in num.dtypes)
    # truly-undefined only: every count/area/score column is complete
    complete = [k for k in num.columns if "_count_" in k or "_area_" in k or k.startswith("lus_")]
    assert not num[complete].isna().any().any()


def test_severity_drives_b_lines(truth_features, tiny_cohort):
    sev = open_cohort(tiny_cohort).latent_severity()
    exams = read_features(truth_features).set_index("exam_id")
    rho = np.corrcoef(sev.loc[exams.index].to_numpy(float), exams["lus_score_sum"])[0, 1]
    assert rho > 0.3


#: Rows each level has per unit of the cohort, and the key columns that identify a row.
LEVEL_KEYS = {"frame": ["frame_id"], "clip": ["clip_id"],
              "zone": ["exam_id", "zone"], "exam": ["exam_id"], "patient": ["patient_id"]}


def _expected_rows(cohort, level: str) -> int:
    f = cohort.frames
    return {"frame": len(f), "clip": f["clip_id"].nunique(),
            "zone": len(f[["exam_id", "zone"]].drop_duplicates()), "exam": f["exam_id"].nunique(),
            "patient": f["patient_id"].nunique()}[level]


@pytest.mark.parametrize("level", ["component", "frame", "clip", "zone", "exam", "patient"])
def test_every_level_reads_in_both_forms(truth_features, tiny_cohort, level):
    c = open_cohort(tiny_cohort)
    df = read_features(truth_features, level)
    if level == "component":
        # one row per component of the truth masks, the same count compute_components finds
        from lusfeat.features import compute_components

        expected = compute_components(np.asarray(c.truth[:]), backend="cpu")
        assert len(df) == len(expected)
        np.testing.assert_array_equal(df["area"].to_numpy(), expected["area"].to_numpy())
        return
    other_form = "long" if level == "exam" else "wide"
    other = read_features(truth_features, level, form=other_form)
    wide, long = (df, other) if level == "exam" else (other, df)
    keys = LEVEL_KEYS[level]
    assert len(wide) == _expected_rows(c, level) and not wide.duplicated(keys).any()
    # the long form holds exactly the wide form's values, column <feature>[_<aggregate>]
    name = long["feature"] if "aggregate" not in long else long["feature"] + "_" + long["aggregate"]
    back = long.assign(column=name).pivot(index=keys, columns="column", values="value")
    assert set(back.columns) <= set(wide.columns) and len(back.columns) > 0
    if level == "frame":
        assert set(back.columns) == set(DICTIONARY.names("frame"))
    mine = wide.set_index(keys).loc[back.index, list(back.columns)]
    np.testing.assert_array_equal(mine.to_numpy(float), back.to_numpy(float))


def test_parquet_opens_in_polars_and_duckdb(truth_features):
    import duckdb
    import polars as pl

    wide = pl.read_parquet(truth_features / "exam_wide.parquet")
    n = duckdb.sql(f"select count(*) from '{truth_features / 'exam.parquet'}'").fetchall()[0][0]
    assert wide.height == len(read_features(truth_features, "exam"))
    assert n == len(read_features(truth_features, "exam", form="long"))


def test_labels_masks_and_mask_set_agree(tiny_cohort, tmp_path):
    c = open_cohort(tiny_cohort)
    out = extract(c, "labels:50", tmp_path / "lab", backend="cpu", progress=False)
    conf = np.asarray(c.confidence[:])
    masks = conf.astype(np.float32).mean(axis=1) >= 50
    with MaskWriter(tmp_path / "ms", c.n_frames, *c.shape) as w:
        w.write(0, masks)
        w.finish({"producer": "test"})
    out2 = extract(c, tmp_path / "ms", tmp_path / "ms_f", backend="cpu", progress=False)
    out3 = extract(c, masks, tmp_path / "arr_f", backend="cpu", progress=False)
    a = read_features(out, "frame", form="wide")
    for o in (out2, out3):
        b = read_features(o, "frame", form="wide")
        np.testing.assert_array_equal(a["b_line_count"], b["b_line_count"])


def test_bad_inputs(tiny_cohort, tmp_path, truth_features):
    c = open_cohort(tiny_cohort)
    with pytest.raises(InputError, match="shape"):
        extract(c, np.zeros((3, 5, 8, 8), bool), tmp_path / "x", progress=False)
    with pytest.raises(InputError, match="bool"):
        extract(c, np.zeros((c.n_frames, 5, *c.shape), np.uint8), tmp_path / "x", progress=False)
    with pytest.raises(InputError, match="labels:60"):
        extract(c, "labels:abc", tmp_path / "x", progress=False)
    with pytest.raises(InputError, match="already exists"):
        extract(c, "truth", truth_features, progress=False)
    with pytest.raises(InputError, match="level"):
        read_features(truth_features, "ward")


def test_feature_set_summary_counts_what_the_tables_hold(truth_features, tiny_cohort):
    from lusfeat import CLASS_NAMES, CohortError
    from lusfeat.features import open_features

    fs = open_features(truth_features)
    s = fs.summary()
    info = dict(s.info)
    c = open_cohort(tiny_cohort)
    assert info["masks"] == "truth" and info["backend"] == "cpu"
    assert info["frames"] == c.n_frames and info["exams"] == c.frames["exam_id"].nunique()
    assert info["components"] == len(fs.components)
    per_class = s.as_frame("per class")
    assert list(per_class.index) == list(CLASS_NAMES)
    truth = np.asarray(c.truth[:], bool).any(axis=(2, 3))  # (N, C): class present in the frame
    order = fs.frame.sort_values("array_index")
    assert (order["array_index"].to_numpy() == np.arange(c.n_frames)).all()
    np.testing.assert_array_equal(per_class["frames with it"].to_numpy(), truth.sum(axis=0))
    assert per_class["components"].sum() == len(fs.components)
    assert "per class:" in s.as_text()
    with pytest.raises(CohortError, match="not a lusfeat feature folder"):
        open_features(tiny_cohort)


def test_cohort_summary(tiny_cohort):
    c = open_cohort(tiny_cohort)
    info = dict(c.summary().info)
    assert info["patients"] == c.frames["patient_id"].nunique() and info["frames"] == c.n_frames
    assert info["frame size"] == f"{c.shape[0]} x {c.shape[1]} px"
    assert info["true masks"] == "yes (simulated cohort)" and info["source"] == "simulated"


def test_tables_are_written_out_of_core(tiny_cohort, tmp_path):
    """Frames arrive in pieces and are aggregated clip by clip: at most one piece and one
    open clip held, and the same tables as one batch of every frame."""
    from lusfeat.testing import compare_table_folders

    c = open_cohort(tiny_cohort)
    whole = extract(c, "truth", tmp_path / "whole", backend="cpu", batch=c.n_frames, progress=False)
    pieces = extract(c, "truth", tmp_path / "pieces", backend="cpu", batch=3, progress=False)
    assert compare_table_folders(whole, pieces)[1] == []
    meta = json.loads((pieces / "features.json").read_text())
    longest_clip = int(c.frames.groupby("clip_id").size().max())
    held = meta["aggregation"]["frames_held_max"]  # one part of 3 frames plus the open clip at most
    assert held >= 1 and held <= 3 + longest_clip
    assert meta["timings"]["tables_s"] > 0


def test_a_short_piece_list_leaves_no_folder(tiny_cohort, tmp_path):
    from lusfeat.features._extract import FeatureSink, _MaskReader

    c = open_cohort(tiny_cohort)
    sink = FeatureSink(c, "cpu")
    src = _MaskReader(c, "truth")
    sink.add(0, src.batch(0, c.n_frames - 1))
    with pytest.raises(InputError, match=f"features of {c.n_frames - 1} frames collected"):
        sink.write(tmp_path / "out", src.describe())
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("spacings", [(0.3, None), (0.3, 0.3), (None, None)])
def test_mixed_pixel_spacing_is_a_warning(spacings, tmp_path, caplog):
    """Frames with and without a pixel spacing would mix mm and px in one column: said once."""
    from lusfeat.data.ingest import ingest

    from ..data.ingest_helpers import fan_frame, manifest_row, write_manifest, write_png

    rows = []
    for i, sp in enumerate(spacings):
        write_png(tmp_path / f"f{i}.png", fan_frame(seed=i)[0])
        rows.append(manifest_row(f"f{i}.png", clip_id=f"c{i}", **({} if sp is None else {"pixel_spacing_mm": sp})))
    coh = open_cohort(ingest(write_manifest(tmp_path / "m.csv", rows), tmp_path / "coh", size=32))
    masks = np.zeros((2, 5, 32, 32), bool)
    masks[:, 0, 8:10, 4:28] = True  # a pleural line on both frames
    out = extract(coh, masks, tmp_path / "f", backend="cpu", progress=False)
    mixed = spacings.count(None) == 1
    assert ("1 of 2 frames have no pixel spacing" in caplog.text) == mixed
    unit = json.loads((out / "features.json").read_text())["lengths_unit"]
    assert unit == ("mm where pixel_spacing_mm is known, else px" if mixed else "px" if None in spacings else "mm")
