"""Ingest of the real LUS frames in ../shared/data/real_lus (skipped when absent)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage as ndi

from lusfeat import ValidationError
from lusfeat.data import open_cohort
from lusfeat.data.ingest import detect_scan_region, ingest

from .ingest_helpers import real_lus_manifest


def _frames(real_lus_dir):
    labels = pd.read_csv(real_lus_dir / "labels.csv")
    return [(real_lus_dir / f, probe) for f, probe in zip(labels["filename"], labels["probe"], strict=True)]


def test_scan_regions_on_real_frames(real_lus_dir):
    import imageio.v3 as iio

    for path, probe in _frames(real_lus_dir):
        img = iio.imread(path)
        gray = img if img.ndim == 2 else img.mean(axis=-1)
        h, w = gray.shape
        r = detect_scan_region(img)
        name = path.name
        assert r.mask[h // 2, w // 2], f"{name}: region misses the image centre"
        assert 0.4 < r.fraction <= 1.0, name
        # black border: edge rows/columns that are black everywhere are outside the region
        black = ndi.median_filter(gray, 3) <= 4
        for edge, sel in (("top", np.s_[0, :]), ("bottom", np.s_[-1, :]), ("left", np.s_[:, 0]), ("right", np.s_[:, -1])):
            if black[sel].all():
                assert not r.mask[sel].any(), f"{name}: region includes the black {edge} border"
        for cy, cx in ((0, 0), (0, w - 1)):  # black top corners of a fan stay outside
            ys, xs = slice(max(cy - 4, 0), cy + 5), slice(max(cx - 4, 0), cx + 5)
            if black[ys, xs].all():
                assert not r.mask[cy, cx], f"{name}: region includes the black corner ({cy}, {cx})"
        # bright image content is inside the region
        bright = ndi.median_filter(gray, 5) > 40
        assert (bright & r.mask).sum() >= 0.97 * bright.sum(), name
        if probe == "linear":
            assert r.kind == "rectangle", name


def test_ingest_all_real_frames(real_lus_dir, tmp_path):
    m = real_lus_manifest(real_lus_dir, tmp_path / "m.csv")
    coh = open_cohort(ingest(m, tmp_path / "coh", size=128))
    n = len(pd.read_csv(real_lus_dir / "labels.csv"))
    assert coh.n_frames == n and coh.shape == (128, 128) and coh.truth is None
    imgs = coh.images[:]
    assert (imgs.reshape(n, -1).max(axis=1) > 60).all()
    assert (imgs[:, 0, 0] == 0).sum() >= 25  # most fans: black corner outside the sector
    assert coh.frames["pixel_spacing_mm"].isna().all()  # PNGs carry no calibration
    assert set(coh.frames["probe"]) == {"convex", "linear"}


BLUES_MAP = {"exam_id": "patient_id", "patient_id": "patient_id", "spo2": "oxygen_saturation_without_ox",
             "age": "pat_age", "sex": "pat_sex", "o2_flow_lpm": "oxygen_liter"}


def test_blues_clinical_table(real_lus_dir, tmp_path):
    labels = pd.read_csv(real_lus_dir / "labels.csv")
    blues = labels[labels["source"] == "NinaWie/COVID-BLUES"]
    blues = blues.drop_duplicates("patient_key")  # one frame per patient is enough here
    rows = []
    for f in blues["filename"]:
        pid, zone = re.match(r"frames/blues__patient_(\d+)_([LR]\d)__", f).groups()
        rows.append({"path": str(real_lus_dir / f), "patient_id": pid, "exam_id": pid, "zone": zone})
    m = tmp_path / "m.csv"
    pd.DataFrame(rows).to_csv(m, index=False)
    table = real_lus_dir / "source_tables" / "covid_blues_clinical_variables_rows.csv"
    with pytest.raises(ValidationError) as info:
        ingest(m, tmp_path / "bad", clinical=table, column_map=BLUES_MAP, size=64)
    text = str(info.value)
    assert "spo2 -99.0 is negative: a missing-value code? pass --na-code -99.0" in text
    assert not (tmp_path / "bad").exists()
    coh = open_cohort(ingest(m, tmp_path / "coh", clinical=table, column_map=BLUES_MAP,
                             na_codes=("-99", "-96"), size=64))
    c = coh.clinical.set_index("exam_id")
    assert len(c) == 10
    assert np.isnan(c.loc["57", "spo2"]) and c.loc["9", "spo2"] == 96.0 and c.loc["9", "age"] == 77.0
    assert c["fio2"].isna().all() and c["sf_ratio"].isna().all()  # no FiO2 without --flow-to-fio2
    assert c["readmit_30d"].isna().all()
    coh = open_cohort(ingest(m, tmp_path / "coh2", clinical=table, column_map=BLUES_MAP,
                             na_codes=("-99", "-96"), flow_to_fio2=True, size=64))
    c = coh.clinical.set_index("exam_id")
    assert c.loc["9", "fio2"] == pytest.approx(0.29) and bool(c.loc["9", "fio2_estimated"])
    assert np.isnan(c.loc["53", "fio2"])  # no flow recorded
