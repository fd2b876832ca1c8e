"""A segmenter trained on simulated frames runs on ingested real frames through features."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lusfeat.data import open_cohort, open_masks
from lusfeat.data.ingest import ingest

from .ingest_helpers import real_lus_manifest


@pytest.mark.slow
def test_simulator_model_on_real_frames_through_features(tiny_cohort, real_lus_dir, tmp_path):
    from lusfeat.features import DICTIONARY, extract
    from lusfeat.seg import UNetConfig, segment, train

    # a nominal calibration so frame features come out in mm
    m = real_lus_manifest(real_lus_dir, tmp_path / "m.csv", pixel_spacing_mm=0.2)
    real = ingest(m, tmp_path / "real", size=64)

    run = train(tiny_cohort, tmp_path / "run", "threshold:60", folds=1, epochs=1, size=64,
                model=UNetConfig(depth=2, width=4), device="cpu", threads=1, progress=False)
    # a simulator model applied to real frames: foreign on purpose, so not out of fold
    masks = segment(real, run, tmp_path / "masks", device="cpu", threads=1, progress=False, allow_foreign=True)
    meta = open_masks(masks).meta
    assert meta["foreign"] is True and meta["out_of_fold"] is False
    out = extract(real, masks, tmp_path / "features", backend="cpu", progress=False)

    coh = open_cohort(real)
    frame = pd.read_parquet(out / "frame_wide.parquet")
    assert len(frame) == coh.n_frames
    spec = DICTIONARY.to_frame().set_index("name")
    for name in DICTIONARY.names("frame"):
        values = frame[name].to_numpy(dtype=float)
        assert not np.isinf(values).any(), name
        if spec.loc[name, "nan"] == "never":
            assert not np.isnan(values).any(), f"{name} is NaN on a real frame but is always defined"
    # conditional NaNs only where their condition holds
    no_pleura = frame["pleural_line_area"].to_numpy() == 0
    for name in ("pleural_line_depth", "pleural_line_thickness_mean"):
        assert np.array_equal(np.isnan(frame[name].to_numpy(dtype=float)), no_pleura), name
    no_cons = frame["consolidation_count"].to_numpy() == 0
    assert np.array_equal(np.isnan(frame["consolidation_depth_max"].to_numpy(dtype=float)), no_cons)
    exam = pd.read_parquet(out / "exam_wide.parquet")
    assert set(exam["exam_id"]) == set(coh.frames["exam_id"])
