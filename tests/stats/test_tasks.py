"""Task assembly: exclusions, pairs, patient rows, mismatches."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lusfeat import InputError
from lusfeat.stats import TaskSkipped, build_task
from lusfeat.stats._inputs import load_pipelines
from lusfeat.stats._tasks import match_pipeline


def _pipes(study):
    _, feats, _ = study
    return load_pipelines({"truth": feats["truth"], "noisy": feats["noisy"]})


def test_sf_excludes_unreliable_exams_and_counts_them(study):
    clin = study[0]
    d = build_task("sf", clin, _pipes(study))
    on_o2 = clin["o2_device"] != "room_air"
    bad = int(((clin["spo2"] > 97) & on_o2).sum())
    assert bad > 0
    assert d.excluded["SpO2 > 97% on supplemental oxygen"] == bad
    assert len(d.y) == len(clin) - bad
    assert not (d.rows["spo2"].gt(97) & d.rows["o2_device"].ne("room_air")).any()
    kept = build_task("sf", clin, _pipes(study), exclude_unreliable_sf=False)
    assert len(kept.y) == len(clin)
    np.testing.assert_array_equal(d.features["truth"].columns, d.features["noisy"].columns)


def test_sf_change_pairs_and_margin(change_study):
    clin = change_study[0]
    pipes = _pipes(change_study)
    d3 = build_task("sf-change", clin, pipes, change_classes=3)
    rel = d3.rows["relative_change"].to_numpy()
    np.testing.assert_array_equal(d3.y, np.where(rel <= -0.1, 0, np.where(rel >= 0.1, 2, 1)))
    first = d3.rows["exam_id_first"].str.split("-E").str[1].astype(int)
    second = d3.rows["exam_id"].str.split("-E").str[1].astype(int)
    assert (second == first + 1).all()  # consecutive exams only
    d2 = build_task("sf-change", clin, pipes)
    assert d2.kind == "binary" and set(np.unique(d2.y)) == {0.0, 1.0}
    assert len(d2.y) == int((d3.y != 1).sum())
    assert d2.excluded["stable pairs (|change| < 10%)"] == int((d3.y == 1).sum())
    worse = d2.rows["relative_change"].to_numpy() <= -0.1
    np.testing.assert_array_equal(d2.y, worse.astype(float))
    cols = d2.features["truth"].columns
    assert any(c.startswith("delta__") for c in cols) and any(c.startswith("base__") for c in cols)
    # delta = later - earlier
    t = change_study[1]["truth"].set_index("exam_id")
    r0 = d2.rows.iloc[0]
    c = "b_line_count_mean"
    assert d2.features["truth"].loc[0, f"delta__{c}"] == pytest.approx(
        t.loc[r0["exam_id"], c] - t.loc[r0["exam_id_first"], c])


def test_readmission_one_row_per_patient(study):
    clin = study[0]
    d = build_task("readmission", clin, _pipes(study))
    assert d.rows["patient_id"].is_unique and len(d.y) == clin["patient_id"].nunique()
    assert (d.rows["exam_id"] == clin.groupby("patient_id")["discharge_exam_id"].first()
            .reindex(d.rows["patient_id"]).to_numpy()).all()
    assert any(c.startswith("change__") for c in d.features["truth"].columns)


def test_covariates_are_appended_and_encoded(study):
    d = build_task("sf", study[0], _pipes(study), covariates=["age", "sex"])
    cols = list(d.features["truth"].columns)
    assert "cov__age" in cols and "cov__sex_M" in cols
    with pytest.raises(InputError, match="covariate 'height'"):
        build_task("sf", study[0], _pipes(study), covariates=["height"])


def test_too_few_events_is_a_skip_with_a_clear_message(study):
    clin = study[0].copy()
    clin["readmit_30d"] = 0
    clin.loc[clin.index[:4], "readmit_30d"] = 1
    with pytest.raises(TaskSkipped, match="too few events"):
        build_task("readmission", clin, _pipes(study))


def test_missing_clinical_values_are_excluded_and_counted(study):
    clin = study[0].copy()
    clin.loc[clin.index[:5], "sf_ratio"] = np.nan
    d = build_task("sf", clin, _pipes(study))
    assert d.excluded["missing S/F"] == 5


def test_mismatched_features(study):
    clin, feats, _ = study
    other = feats["truth"].assign(exam_id=lambda d: "X" + d["exam_id"])
    (p,) = load_pipelines({"other": other})
    with pytest.raises(InputError, match="none of its"):
        match_pipeline(p, clin)
    swapped = feats["truth"].copy()
    swapped.loc[0, "patient_id"] = "P9999"
    (p,) = load_pipelines({"swapped": swapped})
    with pytest.raises(InputError, match="belongs to patient"):
        match_pipeline(p, clin)
    (p,) = load_pipelines({"part": feats["truth"].iloc[5:]})
    assert "5 cohort exam(s) without features" in match_pipeline(p, clin)


def test_feature_inputs(tmp_path, study):
    df = study[1]["truth"]
    path = tmp_path / "thr60.parquet"
    df.to_parquet(path)
    (p,) = load_pipelines(path)
    assert p.name == "thr60" and p.source == str(path)
    with pytest.raises(InputError, match="more than once"):
        load_pipelines({"a": df}, {"a": df})
    with pytest.raises(InputError, match="lacks"):
        load_pipelines(df.drop(columns="patient_id"))
    with pytest.raises(InputError, match="does not exist"):
        load_pipelines(tmp_path / "nope.parquet")
    with pytest.raises(InputError, match="more than once"):
        load_pipelines(pd.concat([df, df.iloc[:1]]))
