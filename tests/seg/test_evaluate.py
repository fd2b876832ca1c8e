import json

import numpy as np
import pandas as pd
import pytest

from lusfeat._errors import InputError
from lusfeat.data import MaskWriter, open_cohort
from lusfeat.labels import fuse
from lusfeat.seg import METRICS, evaluate


def _write_masks(path, masks, probs=None):
    n, _, h, w = masks.shape
    with MaskWriter(path, n, h, w, with_probabilities=probs is not None) as wr:
        wr.write(0, masks, probs)
        wr.finish({"producer": "test"})
    return path


def test_truth_masks_score_perfectly(small_cohort, tmp_path):
    cohort = open_cohort(small_cohort)
    truth = np.asarray(cohort.truth[:])
    masks = _write_masks(tmp_path / "m", truth)
    res = evaluate(small_cohort, masks, tmp_path / "ev", bootstrap=50, progress=False)
    s = res.table.set_index(["reference", "class", "metric"])
    for cls in cohort.class_names:
        assert s.loc[("truth", cls, "dice"), "estimate"] == 1.0
        assert s.loc[("truth", cls, "hd95"), "estimate"] == 0.0
        assert s.loc[("truth", cls, "dice"), "ci_low"] == 1.0
    assert set(res.frames["reference"]) == {"truth"} | {f"labels:{t}" for t in (50, 60, 70, 80, 90, 100)}
    assert len(res.frames) == cohort.n_frames * 5 * 7
    assert res.calibration.empty  # no probabilities stored
    for name in ("frames.parquet", "summary.parquet", "calibration.parquet", "evaluation.json"):
        assert (tmp_path / "ev" / name).is_file()
    meta = json.loads((tmp_path / "ev" / "evaluation.json").read_text())
    assert "distance_transform_edt" in meta["hd95"]
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "ev" / "summary.parquet"),
                                  res.table)
    text = res.summary().as_text()
    assert text == str(res.summary()) == str(res)
    assert "truth" in text and "pleural_line" in text and str(masks) in text
    assert type(res.table[res.table["metric"] == "dice"]) is pd.DataFrame
    assert res.summary().as_frame("segmentation").equals(res.table)
    assert "<table" in res.summary().as_html()


def test_frame_metrics_match_hand_computation(small_cohort, tmp_path):
    cohort = open_cohort(small_cohort)
    n = cohort.n_frames
    masks = np.zeros((n, 5, 32, 32), bool)
    masks[:, 0, :16] = True  # top half for class 0, nothing for the rest
    res = evaluate(small_cohort, _write_masks(tmp_path / "m", masks), bootstrap=0, progress=False)
    fused = fuse(np.asarray(cohort.confidence[:]), "mean")
    f = res.frames.set_index(["reference", "class", "array_index"])
    for i in (0, 5, n - 1):
        ref = fused[i, 0] >= 60
        tp = (ref & masks[i, 0]).sum()
        row = f.loc[("labels:60", "pleural_line", i)]
        assert row["dice"] == pytest.approx(2 * tp / (ref.sum() + masks[i, 0].sum()))
        assert row["precision"] == pytest.approx(tp / masks[i, 0].sum())
        assert row["hd95_mm"] == pytest.approx(row["hd95"] * 0.2)
        empty_ref = not (fused[i, 1] >= 60).any()
        row1 = f.loc[("labels:60", "a_line", i)]
        assert row1["empty"] == ("both" if empty_ref else "prediction")
    assert np.isnan(res.table["ci_low"]).all()  # bootstrap=0: no CIs
    assert list(res.frames.columns[6:11]) == list(METRICS)


def test_bootstrap_ci_and_calibration(small_cohort, tmp_path):
    cohort = open_cohort(small_cohort)
    fused = fuse(np.asarray(cohort.confidence[:]), "mean")
    rng = np.random.default_rng(0)
    noisy = np.clip(fused / 100 + rng.normal(0, 0.2, fused.shape), 0, 1)
    probs = np.rint(noisy * 255).astype(np.uint8)
    res = evaluate(small_cohort, _write_masks(tmp_path / "m", probs >= 128, probs), bootstrap=200,
                   progress=False)
    s = res.table
    ok = s.dropna(subset=["ci_low"])
    assert (ok["ci_low"] <= ok["estimate"] + 1e-12).all() and (ok["estimate"] <= ok["ci_high"] + 1e-12).all()
    assert (s["ci_high"] > s["ci_low"]).any()
    cal = res.calibration
    assert len(cal) == 5 * 10 and cal["n_pixels"].sum() == probs.size
    ece = s[s["metric"] == "ece"].set_index("class")["estimate"]
    # ECE by hand for class 0
    p = probs[:, 0].ravel() / 255.0
    c = fused[:, 0].ravel() / 100.0
    bins = np.minimum((p * 10).astype(int), 9)
    by_hand = sum(abs(p[bins == b].sum() - c[bins == b].sum()) for b in range(10)) / p.size
    assert ece["pleural_line"] == pytest.approx(by_hand, rel=1e-6)


def test_evaluate_rejects_mismatch(small_cohort, tmp_path):
    wrong = _write_masks(tmp_path / "m", np.zeros((3, 5, 32, 32), bool))
    with pytest.raises(InputError, match="segment this cohort first"):
        evaluate(small_cohort, wrong, progress=False)
    ok = _write_masks(tmp_path / "ok", np.zeros((16, 5, 32, 32), bool))
    with pytest.raises(InputError, match="thresholds"):
        evaluate(small_cohort, ok, thresholds=(0,), progress=False)
    with pytest.raises(InputError, match="unknown fusion"):
        evaluate(small_cohort, ok, fusion="median", progress=False)


def test_dice_present_ignores_empty_reference_frames(small_cohort, tmp_path):
    cohort = open_cohort(small_cohort)
    truth = np.asarray(cohort.truth[:])
    masks = truth.copy()
    masks[:, 2] = False  # miss every B-line
    res = evaluate(small_cohort, _write_masks(tmp_path / "m", masks), bootstrap=0, progress=False)
    s = res.table.set_index(["reference", "class", "metric"])["estimate"]
    has_bline = truth[:, 2].any(axis=(1, 2))
    assert 0 < has_bline.sum() < len(has_bline)
    assert s[("truth", "b_line", "dice_present")] == 0.0
    assert s[("truth", "b_line", "dice")] == pytest.approx(1 - has_bline.mean())
    assert s[("truth", "pleural_line", "dice_present")] == 1.0


def test_staple_references(small_cohort, tmp_path):
    cohort = open_cohort(small_cohort)
    conf = np.asarray(cohort.confidence[:])
    ref = fuse(conf, "staple") >= 60
    res = evaluate(small_cohort, _write_masks(tmp_path / "m", ref), fusion="staple", thresholds=(60,),
                   bootstrap=0, progress=False)
    s = res.table.set_index(["reference", "class", "metric"])["estimate"]
    for cls in cohort.class_names:
        assert s[("labels:60", cls, "dice")] == 1.0
    assert res.meta["fusion"] == "staple"
