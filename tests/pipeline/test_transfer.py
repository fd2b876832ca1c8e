"""Transfer check on real frames (:mod:`lusfeat.pipeline._transfer`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lusfeat._errors import InputError
from lusfeat.data import open_cohort
from lusfeat.data._gain import chest_wall_level, reference_level
from lusfeat.pipeline._transfer import (
    HEADLINE,
    across_networks,
    headline_values,
    overlay_figure,
    read_labels,
    real_manifest,
    transfer,
    transfer_scores,
)
from lusfeat.seg import UNetConfig, pretrain


def _table(n: int = 8) -> pd.DataFrame:
    rows = []
    for k in range(n):
        rows.append({
            "pixel_spacing_mm": np.nan, "pleural_line_coverage": 0.4 if k else 0.05,
            "pleural_line_depth": 30.0 if k != 1 else 120.0,  # frame 1: too deep for a pleura at H=128
            "b_line_pleural_fraction": k / n, "b_line_blas": k / n, "b_line_area": float(k),
            "lus_score": float(k // 2), "severity": float(k // 2), "b_lines": float(k >= n // 2),
            "consolidation": 0.0 if k < 4 else np.nan, "consolidation_area": 0.0 if k != 2 else 5.0,
        })
    return pd.DataFrame(rows)


def test_scores_by_hand():
    s = transfer_scores(_table(), height=128, n_boot=200)
    assert s["pleural_found"] == pytest.approx(6 / 8)  # frame 0 covers too little, frame 1 is too deep
    assert s["bline_auc"]["value"] == 1.0 and s["bline_auc"]["positives"] == 4
    assert s["bline_spearman"]["value"] == pytest.approx(np.corrcoef(np.arange(8), np.arange(8) // 2)[0, 1], abs=0.1)
    assert s["lus_spearman"]["value"] == pytest.approx(1.0)
    assert s["no_consolidation"] == {"value": 0.75, "n": 4}
    lo, hi = s["bline_auc"]["ci"]
    assert lo <= 1.0 <= hi + 1e-12
    # the labels against each other: B-line label (k >= 4) against severity (k // 2)
    lab, sev = (np.arange(8) >= 4).astype(float), (np.arange(8) // 2).astype(float)
    from scipy.stats import spearmanr

    agree = s["label_agreement"]
    assert agree["n"] == 8 and agree["auc"] == 1.0
    assert agree["spearman"] == pytest.approx(spearmanr(lab, sev).statistic)
    assert agree["ci"][0] <= agree["spearman"] <= agree["ci"][1] + 1e-12


def test_aline_auc_by_hand():
    """A-line area against the A-line label; absent when the table has no A-line labels."""
    t = _table()
    t["a_line_area"] = [0.0, 5.0, 1.0, 0.0, 9.0, 7.0, np.nan, 3.0]
    t["a_lines"] = [0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0, np.nan]  # frame 6 has no area, frame 7 no label
    s = transfer_scores(t, height=128, n_boot=100)
    a = s["aline_auc"]
    assert (a["value"], a["n"], a["positives"]) == (1.0, 6, 3)
    t["a_line_area"] = t["a_line_area"] * -1  # a network drawing A-lines where there are none
    assert transfer_scores(t, height=128, n_boot=20)["aline_auc"]["value"] == 0.0
    assert "aline_auc" not in transfer_scores(_table(), height=128, n_boot=20)
    t["a_lines"] = np.nan  # a labels table without A-line labels
    assert "aline_auc" not in transfer_scores(t, height=128, n_boot=20)
    # the A-line measure comes last: the CIs of the other measures are those of a table without it
    assert s["bline_auc"] == transfer_scores(_table(), height=128, n_boot=100)["bline_auc"]


def test_undefined_correlations_say_why():
    """A network that paints no B-line anywhere has no correlation with severity; neither do uniform labels."""
    t = _table()
    t["b_line_pleural_fraction"] = 0.0
    s = transfer_scores(t, height=128, n_boot=20)
    assert np.isnan(s["bline_spearman"]["value"]) and s["bline_spearman"]["undefined"] == "constant prediction"
    assert s["lus_spearman"]["undefined"] is None  # lus_score still varies
    t = _table()
    t["severity"] = 1.0
    s = transfer_scores(t, height=128, n_boot=20)
    assert s["bline_spearman"]["undefined"] == s["lus_spearman"]["undefined"] == "labels"
    s = transfer_scores(_table().head(2), height=128, n_boot=20)
    assert s["lus_spearman"]["undefined"] == "labels"


def test_spread_over_networks_by_hand():
    a = transfer_scores(_table(), height=128, n_boot=50)
    t = _table()
    t["b_line_pleural_fraction"] = t["b_line_pleural_fraction"].to_numpy()[::-1]  # a network with it backwards
    t["consolidation_area"] = 0.0
    b = transfer_scores(t, height=128, n_boot=50)
    spread = across_networks([a, b])
    assert list(spread) == list(HEADLINE)
    auc = spread["bline_auc"]
    assert auc["values"] == [1.0, 0.0] and auc["mean"] == 0.5 and auc["sd"] == pytest.approx(np.sqrt(0.5))
    assert (auc["min"], auc["max"], auc["n_networks"]) == (0.0, 1.0, 2)
    assert spread["no_consolidation"]["values"] == [0.75, 1.0]
    assert spread["pleural_found"]["sd"] == 0.0
    assert headline_values(a)["lus_spearman"] == pytest.approx(1.0)
    one = across_networks([a])
    assert np.isnan(one["bline_auc"]["sd"]) and one["bline_auc"]["mean"] == 1.0


def test_spread_skips_undefined_measures_and_needs_a_network():
    t = _table()
    t["consolidation"] = np.nan  # no clip labelled without consolidation: the measure is undefined
    a, b = transfer_scores(t, height=128, n_boot=20), transfer_scores(_table(), height=128, n_boot=20)
    s = across_networks([a, b])["no_consolidation"]
    assert np.isnan(s["values"][0]) and s["values"][1] == 0.75
    assert s["n_networks"] == 1 and s["mean"] == 0.75 and np.isnan(s["sd"])
    with pytest.raises(InputError, match="at least one network"):
        across_networks([])


def test_label_agreement_ignores_unlabelled_frames_and_is_nan_without_both_classes():
    t = _table()
    t.loc[0, "severity"] = np.nan
    t.loc[7, "b_lines"] = np.nan
    assert transfer_scores(t, height=128, n_boot=50)["label_agreement"]["n"] == 6
    t["b_lines"] = 1.0
    agree = transfer_scores(t, height=128, n_boot=50)["label_agreement"]
    assert np.isnan(agree["spearman"]) and np.isnan(agree["auc"])


def test_scores_within_each_source():
    # two sources: in "a" the B-line coverage follows the label, in "b" it runs against it;
    # pooled, the sources' offsets decide the AUC
    a, b = _table(), _table()
    b["b_line_pleural_fraction"] = 2.0 - b["b_line_pleural_fraction"]
    a["source"], b["source"] = "a", "b"
    t = pd.concat([a, b], ignore_index=True)
    s = transfer_scores(t, height=128, n_boot=50)
    assert set(s["by_source"]) == {"a", "b"}
    assert s["by_source"]["a"]["bline_auc"]["value"] == 1.0
    assert s["by_source"]["b"]["bline_auc"]["value"] == 0.0
    assert s["by_source"]["a"]["n_frames"] == 8 and s["by_source"]["b"]["pleural_found"] == pytest.approx(6 / 8)
    assert s["bline_auc"]["value"] == pytest.approx(0.5)
    # the pooled measures are those of the table scored without sources
    alone = transfer_scores(t.drop(columns="source"), height=128, n_boot=50)
    assert "by_source" not in alone
    assert alone["bline_auc"] == s["bline_auc"] and alone["lus_spearman"] == s["lus_spearman"]
    # one source only, or a source too small for a CI: no breakdown, or NaN rather than an error
    assert "by_source" not in transfer_scores(a, height=128, n_boot=50)
    tiny = pd.concat([a, b.head(2)], ignore_index=True)
    small = transfer_scores(tiny, height=128, n_boot=50)["by_source"]["b"]
    assert small["n_frames"] == 2 and np.isnan(small["lus_spearman"]["value"])
    assert np.isnan(small["bline_auc"]["ci"][0])


def test_labels_and_manifest(real_lus_dir, tmp_path):
    lab = read_labels(real_lus_dir / "labels.csv")
    assert set(lab["b_lines"].dropna().unique()) <= {0.0, 1.0} and lab["b_lines"].notna().all()
    assert set(lab["a_lines"].unique()) == {0.0, 1.0}  # "yes"/"no" and 1/0 both read
    assert lab["source"].nunique() >= 2  # the shared set holds two public datasets
    m = pd.read_csv(real_manifest(real_lus_dir / "labels.csv", tmp_path / "m.csv"))
    assert len(m) == len(lab) and m["clip_id"].is_unique
    blues = m[m["clip_id"].str.startswith("blues")]
    assert set(blues["zone"]) <= {f"{s}{i}" for s in "LR" for i in range(1, 7)}


def test_transfer_code_path_on_real_frames(real_lus_dir, tmp_path):
    pre = pretrain(tmp_path / "pre", patients=3, frames=1, size=32, epochs=1, model=UNetConfig(depth=2, width=4),
                   threads=1, progress=False)
    scores, table = transfer(real_lus_dir / "labels.csv", pre, tmp_path / "real", size=32, limit=3, n_boot=20,
                             threads=1)
    assert scores["n_frames"] == 3 and len(table) == 3
    assert 0.0 <= scores["pleural_found"] <= 1.0
    assert table["clip_id"].notna().all() and "severity" in table and "b_line_pleural_fraction" in table
    png = overlay_figure(tmp_path / "real" / "cohort", tmp_path / "real" / "masks", list(table["clip_id"][:2]),
                         tmp_path / "overlay.png")
    assert png.stat().st_size > 1000
    # the same frames with their gray levels standardised to the training cohort's chest wall
    target = reference_level(tmp_path / "pre" / "cohort")
    g_scores, g_table = transfer(real_lus_dir / "labels.csv", pre, tmp_path / "real", size=32, limit=3, n_boot=20,
                                 threads=1, gray_target=target)
    assert g_scores["n_frames"] == 3 and len(g_table) == 3
    gray = open_cohort(tmp_path / "real" / "cohort_gray")
    assert gray.meta["gray_standardized"]["target"] == target
    levels = [chest_wall_level(im) for im in gray.images[:]]
    assert np.allclose(levels, target, atol=3)
