"""Clinical table import: mapping, missing codes, units, S/F, exam matching."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lusfeat import ValidationError
from lusfeat.data import CLINICAL_COLUMNS, open_cohort
from lusfeat.data.ingest import Problems, ingest, read_clinical

from .ingest_helpers import rect_frame, write_manifest, write_png

EXAMS = pd.DataFrame({"exam_id": ["E1", "E2", "E3"], "patient_id": ["P1", "P1", "P2"]})


def _csv(tmp_path, text, name="c.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_mapping_units_and_sf(tmp_path):
    p = _csv(tmp_path, "Exam,Pat,SpO2 (%),FiO2,flow,device\nE1,P1,95,21,,room air\nE2,P1,90,0.4,,mask\nE3,P2,92,,2,nasal cannula\n")
    probs = Problems()
    t = read_clinical(p, EXAMS, probs, column_map={"exam_id": "Exam", "patient_id": "Pat", "spo2": "SpO2 (%)",
                                                    "o2_flow_lpm": "flow", "o2_device": "device"}, flow_to_fio2=True)
    assert not probs.errors
    assert list(t.columns) == list(CLINICAL_COLUMNS) + ["o2_flow_lpm", "fio2_estimated"]
    assert t["fio2"].tolist() == pytest.approx([0.21, 0.4, 0.29])  # percent converted; flow rule
    assert t["fio2_estimated"].tolist() == [False, False, True]
    assert t.loc[1, "spo2"] == 90.0
    assert t["sf_ratio"].tolist() == pytest.approx([95 / 0.21, 90 / 0.4, 92 / 0.29])
    assert any("divided by 100" in n for n in probs.notes)


def test_spo2_fraction_column_converted(tmp_path):
    p = _csv(tmp_path, "exam_id,spo2,fio2\nE1,0.95,0.21\nE2,0.88,0.5\nE3,,\n")
    probs = Problems()
    t = read_clinical(p, EXAMS, probs)
    assert t["spo2"].tolist()[:2] == pytest.approx([95.0, 88.0]) and np.isnan(t.loc[2, "spo2"])
    assert any("fractions" in n for n in probs.notes)


def test_flow_needs_opt_in(tmp_path):
    p = _csv(tmp_path, "exam_id,spo2,o2_flow_lpm\nE1,92,2\nE2,90,8\nE3,95,0\n")
    probs = Problems()
    t = read_clinical(p, EXAMS, probs)
    assert t["fio2"].isna().all() and t["sf_ratio"].isna().all()
    probs = Problems()
    t = read_clinical(p, EXAMS, probs, flow_to_fio2=True)
    assert t["fio2"].tolist()[0] == pytest.approx(0.29) and np.isnan(t.loc[1, "fio2"])
    assert t.loc[2, "fio2"] == pytest.approx(0.21)
    assert any("8 L/min is above 6" in w for w in probs.warnings)


def test_bad_values_all_reported(tmp_path):
    p = _csv(tmp_path, "exam_id,patient_id,spo2,fio2\nE1,P1,90-92,0.3\nE2,P1,-99,0.15\nE9,P3,95,0.21\nE1,P1,93,0.3\n")
    probs = Problems()
    read_clinical(p, EXAMS, probs)
    text = "\n".join(probs.errors)
    assert "c.csv line 2 (spo2): spo2 '90-92' is not a number" in text
    assert "c.csv line 3 (spo2): spo2 -99 is negative: a missing-value code? pass --na-code -99" in text
    assert "c.csv line 3: FiO2 0.15 is outside 0.21-1.0" in text
    assert "c.csv line 4: exam 'E9' is not in the manifest" in text
    assert "c.csv line 5: exam E1 already has a clinical row" in text
    assert any("exam 'E3' (patient P2) has no clinical row" in w for w in probs.warnings)
    assert len(probs.errors) == 5


def test_na_codes_configurable(tmp_path):
    p = _csv(tmp_path, "exam_id,spo2,fio2,age\nE1,-99,0.3,-96\nE2,NA,n/a,40\nE3,97,0.21,\n")
    probs = Problems()
    t = read_clinical(p, EXAMS, probs, na_codes=("-99", "-96"))
    assert not probs.errors
    assert np.isnan(t.loc[0, "spo2"]) and np.isnan(t.loc[0, "age"]) and np.isnan(t.loc[1, "fio2"])
    assert t.loc[2, "sf_ratio"] == pytest.approx(97 / 0.21)


def test_excel_and_strict_missing_exam(tmp_path):
    write_png(tmp_path / "f.png", rect_frame())
    write_png(tmp_path / "g.png", rect_frame(seed=2))
    m = write_manifest(tmp_path / "m.csv", [
        {"path": "f.png", "patient_id": "P1", "exam_id": "E1", "zone": "R1"},
        {"path": "g.png", "patient_id": "P2", "exam_id": "E2", "zone": "R1"},
    ])
    x = tmp_path / "c.xlsx"
    pd.DataFrame({"exam_id": ["E1"], "spo2": [94], "fio2": [0.5], "readmit_30d": ["yes"]}).to_excel(x, index=False)
    coh = open_cohort(ingest(m, tmp_path / "coh", clinical=x, size=32))
    c = coh.clinical.set_index("exam_id")
    assert c.loc["E1", "sf_ratio"] == pytest.approx(188.0) and c.loc["E1", "readmit_30d"] == 1.0
    assert np.isnan(c.loc["E2", "spo2"]) and np.isnan(c.loc["E2", "readmit_30d"])
    assert any("E2" in w for w in coh.meta["ingest"]["warnings"])
    with pytest.raises(ValidationError, match="made an error by --strict"):
        ingest(m, tmp_path / "coh2", clinical=x, size=32, strict=True)
    assert not (tmp_path / "coh2").exists()


def test_unknown_map_target_and_source(tmp_path):
    p = _csv(tmp_path, "exam_id,spo2\nE1,95\n")
    probs = Problems()
    read_clinical(p, EXAMS, probs, column_map={"sp02": "spo2", "fio2": "FiO2_pct"})
    text = "\n".join(probs.errors)
    assert "--map sp02=spo2: 'sp02' is not a clinical column" in text
    assert "--map fio2=FiO2_pct: c.csv has no column 'FiO2_pct'" in text


@settings(max_examples=25, deadline=None)
@given(
    fio2=st.one_of(st.floats(0.21, 1.0), st.floats(21.0, 100.0)),
    spo2=st.floats(50.0, 100.0),
)
def test_fio2_fraction_or_percent_gives_the_same_sf(tmp_path_factory, fio2, spo2):
    p = tmp_path_factory.mktemp("c") / "c.csv"
    p.write_text(f"exam_id,spo2,fio2\nE1,{spo2!r},{fio2!r}\n")
    probs = Problems()
    t = read_clinical(p, EXAMS.iloc[:1], probs)
    assert not probs.errors
    frac = fio2 / 100 if fio2 > 1 else fio2
    assert t.loc[0, "fio2"] == pytest.approx(frac)
    assert t.loc[0, "sf_ratio"] == pytest.approx(spo2 / frac)
