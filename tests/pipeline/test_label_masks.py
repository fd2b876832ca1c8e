"""Fused-label masks are the same wherever they are built: features, the sweep's reference masks, evaluate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lusfeat._masks import MaskSource
from lusfeat.data import open_cohort, open_masks
from lusfeat.features._extract import _MaskReader
from lusfeat.labels import fuse
from lusfeat.pipeline._sweep import Stage, SweepConfig, _Ctx, _run_label_masks
from lusfeat.seg import evaluate


def _sweep_label_masks(cohort: Path, out: Path, src: MaskSource) -> np.ndarray:
    stage = Stage("labelmasks/x", "labelmasks", "x", out, {"source": src.spec}, [], "", _run_label_masks, spec=src)
    _run_label_masks(stage, _Ctx(cohort, out.parent, SweepConfig()))
    return np.asarray(open_masks(out).masks[:])


@pytest.mark.parametrize("fusion", ["mean", "staple"])
def test_features_sweep_and_evaluate_agree(tiny_cohort, tmp_path, fusion):
    c = open_cohort(tiny_cohort)
    conf = np.asarray(c.confidence[:])
    src = MaskSource.labels(60, fusion)
    before = fuse(conf, fusion) >= 60.0  # the formula each of the three used before
    features = np.asarray(_MaskReader(c, src).batch(0, c.n_frames))
    np.testing.assert_array_equal(features, before)
    swept = _sweep_label_masks(tiny_cohort, tmp_path / "masks", src)
    np.testing.assert_array_equal(swept, before)
    res = evaluate(c, tmp_path / "masks", thresholds=(60,), fusion=fusion, bootstrap=0, progress=False)
    ref = res.frames[res.frames["reference"] == "labels:60"]
    assert len(ref) == c.n_frames * len(c.class_names)
    assert (ref["dice"] == 1.0).all()


def test_features_labels_batches_agree_with_whole_cohort(tiny_cohort):
    c = open_cohort(tiny_cohort)
    reader = _MaskReader(c, "labels:60@staple")
    whole = fuse(np.asarray(c.confidence[:]), "staple") >= 60.0
    parts = np.concatenate([reader.batch(s, min(s + 7, c.n_frames)) for s in range(0, c.n_frames, 7)])
    np.testing.assert_array_equal(parts, whole)
    assert reader.describe()["spec"] == "labels:60@staple"
