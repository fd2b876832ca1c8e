"""nnU-Net v2 export: the dataset checks of nnU-Net's documentation, the labels, the splits,
and predictions read back."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lusfeat import InputError
from lusfeat.data import CLASS_NAMES, open_cohort
from lusfeat.data.export import DEFAULT_PRIORITY, export, prediction_mask_set, read_predictions
from lusfeat.data.export._common import read_png
from lusfeat.labels import fuse

LUSFEAT = Path(sys.executable).with_name("lusfeat")


def check_nnunet_raw_dataset(folder: Path) -> dict:
    """The checks nnU-Net v2 documents for a raw dataset (documentation/dataset_format.md)
    and runs before planning (verify_dataset_integrity), written out here."""
    assert re.fullmatch(r"Dataset\d{3}_[A-Za-z0-9_\-]+", folder.name), "folder must be DatasetXXX_NAME"
    ds = json.loads((folder / "dataset.json").read_text())
    for key in ("channel_names", "labels", "numTraining", "file_ending"):
        assert key in ds, f"dataset.json lacks {key}"
    channels = sorted(int(k) for k in ds["channel_names"])
    assert channels == list(range(len(channels))), "channel keys are '0', '1', ..."
    labels = ds["labels"]
    assert labels["background"] == 0
    values = sorted(v for k, v in labels.items())
    assert values == list(range(len(values))), "label values must be consecutive integers from 0"
    if "ignore" in labels:
        assert labels["ignore"] == max(values), "the ignore label must have the highest value"
    ending = ds["file_ending"]
    label_files = sorted((folder / "labelsTr").glob(f"*{ending}"))
    assert len(label_files) == ds["numTraining"], "numTraining must equal the number of training cases"
    cases = [p.name[: -len(ending)] for p in label_files]
    images = {p.name for p in (folder / "imagesTr").iterdir()}
    expected = {f"{c}_{ch:04d}{ending}" for c in cases for ch in channels}
    assert images == expected, "imagesTr must hold exactly CASE_XXXX for every case and channel"
    for c, lab_path in zip(cases[:20], label_files[:20], strict=True):
        lab = read_png(lab_path)
        img = read_png(folder / "imagesTr" / f"{c}_0000{ending}")
        assert lab.shape == img.shape and lab.ndim == 2, "image and label must have the same 2-D shape"
        assert set(np.unique(lab).tolist()) <= set(values), "labels may only hold declared values"
    return ds


@pytest.fixture(scope="module")
def t60(tiny_cohort, tmp_path_factory):
    out = tmp_path_factory.mktemp("nn") / "Dataset501_LUS"
    return export(tiny_cohort, out, "nnunet", strategy="threshold:60", folds=3, seed=1)


def expected_labels(cohort, hi: int, lo: int | None = None) -> np.ndarray:
    fused = fuse(np.asarray(cohort.confidence[:]), "mean")
    out = np.zeros((fused.shape[0], *fused.shape[2:]), np.uint8)
    for cls in DEFAULT_PRIORITY:
        k = CLASS_NAMES.index(cls)
        out[fused[:, k] >= hi] = k + 1
    if lo is not None:
        out[((fused >= lo) & (fused < hi)).any(axis=1)] = len(CLASS_NAMES) + 1
    return out


def test_dataset_passes_the_documented_checks(t60, tiny_cohort):
    ds = check_nnunet_raw_dataset(t60)
    c = open_cohort(tiny_cohort)
    assert ds["numTraining"] == c.n_frames and ds["file_ending"] == ".png"
    assert ds["labels"] == {"background": 0, "pleural_line": 1, "a_line": 2, "b_line": 3, "consolidation": 4,
                            "effusion": 5}
    assert ds["lusfeat"]["overlap"]["paint_order"] == list(DEFAULT_PRIORITY)
    assert ds["lusfeat"]["cohort_fingerprint"] == c.fingerprint


def test_labels_follow_the_strategy_and_the_priority(t60, tiny_cohort):
    c = open_cohort(tiny_cohort)
    want = expected_labels(c, 60)
    cases = pd.read_csv(t60 / "cases.csv")
    got = np.stack([read_png(t60 / "labelsTr" / f"{case}.png") for case in cases["case"]])
    assert np.array_equal(got, want[cases["array_index"].to_numpy()])
    img = read_png(t60 / "imagesTr" / f"{cases['case'][3]}_0000.png")
    assert np.array_equal(img, np.asarray(c.images[int(cases["array_index"][3])]))


def test_splits_never_split_a_patient(t60, tiny_cohort):
    splits = json.loads((t60 / "splits_final.json").read_text())
    cases = pd.read_csv(t60 / "cases.csv", dtype={"patient_id": str}).set_index("case")
    assert len(splits) == 3
    vals = [set(s["val"]) for s in splits]
    assert sorted(c for v in vals for c in v) == sorted(cases.index)  # every case validated once
    for s in splits:
        assert not set(s["train"]) & set(s["val"]) and len(s["train"]) + len(s["val"]) == len(cases)
        train_p, val_p = set(cases.loc[s["train"], "patient_id"]), set(cases.loc[s["val"], "patient_id"])
        assert not train_p & val_p, "a patient is in both train and val"


def test_ignore_strategy_uses_the_ignore_label(tiny_cohort, tmp_path):
    out = export(tiny_cohort, tmp_path / "Dataset502_LUSignore", "nnunet", strategy="ignore:30-60", folds=2)
    ds = check_nnunet_raw_dataset(out)
    assert ds["labels"]["ignore"] == 6
    c = open_cohort(tiny_cohort)
    want = expected_labels(c, 60, lo=30)
    got = np.stack([read_png(out / "labelsTr" / f"lus_{i:06d}.png") for i in range(c.n_frames)])
    assert np.array_equal(got, want) and (got == 6).any()


@pytest.mark.parametrize(("kw", "message"), [
    ({"strategy": "soft"}, "nnU-Net trains on hard labels"),
    ({"strategy": "weighted:60"}, "nnU-Net trains on hard labels"),
    ({"strategy": "threshold:60", "priority": ("b_line",)}, "list every class once"),
    ({"strategy": "thresh:60"}, "cannot parse strategy 'thresh:60'"),
])
def test_bad_options(tiny_cohort, tmp_path, kw, message):
    with pytest.raises(InputError, match=message):
        export(tiny_cohort, tmp_path / "Dataset503_X", "nnunet", **kw)
    assert not any(tmp_path.iterdir())


def test_folder_name_is_checked(tiny_cohort, tmp_path):
    with pytest.raises(InputError, match="must be named DatasetXXX_NAME"):
        export(tiny_cohort, tmp_path / "lus", "nnunet")


def fake_predictions(export_dir: Path, dest: Path) -> Path:
    """What nnUNetv2_predict leaves: one label PNG per case and the dataset's dataset.json."""
    dest.mkdir()
    for p in (export_dir / "labelsTr").glob("*.png"):
        shutil.copy(p, dest / p.name)
    shutil.copy(export_dir / "dataset.json", dest / "dataset.json")
    (dest / "plans.json").write_text("{}")
    return dest


def test_predictions_come_back_as_masks(t60, tiny_cohort, tmp_path):
    c = open_cohort(tiny_cohort)
    pred = fake_predictions(t60, tmp_path / "pred")
    masks, foreign = read_predictions(pred, c)
    labels = expected_labels(c, 60)
    assert not foreign and masks.shape == (c.n_frames, 5, *c.shape)
    for k in range(5):
        assert np.array_equal(masks[:, k], labels == k + 1)
    ms = prediction_mask_set(pred, c, tmp_path / "masks")
    from lusfeat.data import open_masks

    assert np.array_equal(np.asarray(open_masks(ms).masks[:]), masks)
    # lusfeat features --masks PRED_DIR reads the same masks
    from lusfeat.features._extract import _MaskSource

    src = _MaskSource(c, str(pred))
    assert np.array_equal(np.asarray(src.batch(0, 5)), masks[:5])
    (pred / "lus_000001.png").unlink()
    with pytest.raises(InputError, match=r"predictions for 1 of \d+ frame\(s\) are missing \(first: lus_000001.png\)"):
        read_predictions(pred, c)


@pytest.mark.skipif(not LUSFEAT.exists(), reason="console script not installed")
def test_console_script_export_and_bad_input(tiny_cohort, tmp_path):
    ok = subprocess.run([str(LUSFEAT), "export", str(tiny_cohort), "--format", "nnunet", "--folds", "2",
                         "--no-progress", str(tmp_path / "Dataset504_LUS")], capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stderr
    assert "nnunet export written to" in ok.stdout
    check_nnunet_raw_dataset(tmp_path / "Dataset504_LUS")
    bad = subprocess.run([str(LUSFEAT), "export", str(tiny_cohort), "--format", "nnunet", "--strategy", "soft",
                          str(tmp_path / "Dataset505_LUS")], capture_output=True, text=True, timeout=300)
    lines = [x for x in (bad.stdout + bad.stderr).splitlines() if x.strip()]
    assert bad.returncode == 1 and len(lines) == 1 and "Traceback" not in bad.stderr
    assert "--strategy soft: nnU-Net trains on hard labels" in lines[0]
    assert not (tmp_path / "Dataset505_LUS").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Dataset504_LUS"]
