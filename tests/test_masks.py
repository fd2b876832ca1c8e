"""Mask sources: the parsing table (good and bad text) and one set of fused-label masks for all users."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lusfeat import InputError
from lusfeat._masks import MaskSource, MaskSourceKind, parse_mask_source
from lusfeat.labels import Fusion, fuse, fused_masks

GOOD = [
    # text, kind, threshold, fusion, canonical spec
    ("truth", MaskSourceKind.TRUTH, None, Fusion.MEAN, "truth"),
    ("labels:60", MaskSourceKind.LABELS, 60.0, Fusion.MEAN, "labels:60"),
    ("labels:0", MaskSourceKind.LABELS, 0.0, Fusion.MEAN, "labels:0"),
    ("labels:100", MaskSourceKind.LABELS, 100.0, Fusion.MEAN, "labels:100"),
    ("labels:62.5", MaskSourceKind.LABELS, 62.5, Fusion.MEAN, "labels:62.5"),
    ("labels:60.0", MaskSourceKind.LABELS, 60.0, Fusion.MEAN, "labels:60"),
    ("labels:60@mean", MaskSourceKind.LABELS, 60.0, Fusion.MEAN, "labels:60"),
    ("labels:60@max", MaskSourceKind.LABELS, 60.0, Fusion.MAX, "labels:60@max"),
    ("labels:50@majority", MaskSourceKind.LABELS, 50.0, Fusion.MAJORITY, "labels:50@majority"),
    ("labels:60@staple", MaskSourceKind.LABELS, 60.0, Fusion.STAPLE, "labels:60@staple"),
    ("masks/t60", MaskSourceKind.MASK_SET, None, Fusion.MEAN, "masks/t60"),
    ("nowhere", MaskSourceKind.MASK_SET, None, Fusion.MEAN, "nowhere"),
]

BAD = [
    # text, phrase of the one-line message
    ("labels:high", "T must be a number in percent, e.g. labels:60"),
    ("labels:", "T must be a number in percent"),
    ("labels:@max", "T must be a number in percent"),
    ("labels:150", "T must be in [0, 100] percent"),
    ("labels:-5", "T must be in [0, 100] percent"),
    ("labels:60@median", "unknown fusion 'median'; expected one of mean, max, majority, staple"),
    ("labels:60@", "unknown fusion ''"),
    (42, "masks must be 'truth', 'labels:T', a mask-set path"),
    (None, "masks must be 'truth', 'labels:T', a mask-set path"),
]


@pytest.mark.parametrize(("text", "kind", "threshold", "fusion", "spec"), GOOD, ids=[g[0] for g in GOOD])
def test_parse_good(text, kind, threshold, fusion, spec):
    src = parse_mask_source(text)
    assert (src.kind, src.threshold, src.fusion, src.spec) == (kind, threshold, fusion, spec)
    assert src.text == text  # recorded as given (features.json, fingerprints)
    assert parse_mask_source(src) is src
    assert parse_mask_source(src.spec).spec == spec


@pytest.mark.parametrize(("text", "phrase"), BAD, ids=[str(b[0]) for b in BAD])
def test_parse_bad_is_one_line(text, phrase):
    with pytest.raises(InputError) as info:
        parse_mask_source(text)
    message = str(info.value)
    assert phrase in message and "\n" not in message
    if isinstance(text, str):
        assert "--masks" in message


def test_folders(tmp_path):
    pred = tmp_path / "pred"
    pred.mkdir()
    (pred / "dataset.json").write_text("{}")
    src = parse_mask_source(pred)
    assert src.kind is MaskSourceKind.PREDICTIONS and src.path == pred and src.on_disk
    assert src.text == str(pred)
    mset = parse_mask_source(Path("masks") / "t60")
    assert mset.kind is MaskSourceKind.MASK_SET and mset.path == Path("masks/t60") and mset.on_disk
    assert not parse_mask_source("truth").on_disk


def test_labels_constructor():
    assert MaskSource.labels(60) == parse_mask_source("labels:60")
    assert MaskSource.labels(60, "staple").spec == "labels:60@staple"


def test_fused_masks_hand_computed():
    # one pixel, one class, three annotators per case: 40/80/90 (mean 70, max 90, 2 of 3 >= 50),
    # 10/20/60 (mean 30, max 60, 1 of 3), 50/50/0 (mean 33.3, max 50, 2 of 3)
    conf = np.array([[40, 80, 90], [10, 20, 60], [50, 50, 0]], np.uint8).reshape(3, 3, 1, 1, 1)
    cases = {
        ("mean", 70): [True, False, False],
        ("mean", 30): [True, True, True],
        ("mean", 71): [False, False, False],
        ("max", 60): [True, True, False],
        ("max", 50): [True, True, True],
        ("majority", 60): [True, False, True],
        ("majority", 67): [False, False, False],
        ("mean", 0): [True, True, True],
    }
    for (fusion, t), want in cases.items():
        got = fused_masks(conf, t, fusion)
        assert got.dtype == bool and got.shape == (3, 1, 1, 1)
        assert got.ravel().tolist() == want, (fusion, t)
    fused = fuse(conf, "mean")
    assert fused_masks(None, 70, fused=fused).ravel().tolist() == [True, False, False]


def test_fused_masks_threshold_range():
    conf = np.zeros((1, 2, 1, 2, 2), np.uint8)
    with pytest.raises(InputError, match=r"\[0, 100\]"):
        fused_masks(conf, 101)
