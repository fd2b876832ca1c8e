"""Cohort format: writer/reader round trip, atomicity, open errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import lusfeat
from lusfeat import CohortError, InputError
from lusfeat.data import CLASS_NAMES, CohortWriter, MaskWriter, open_cohort, open_masks


def _tables(n: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    frames = pd.DataFrame(
        {
            "frame_id": [f"f{i}" for i in range(n)],
            "patient_id": "P1",
            "exam_id": "P1-E1",
            "zone": "R1",
            "clip_id": "c1",
            "frame_index": np.arange(n),
            "array_index": np.arange(n),
            "probe": "linear",
            "pixel_spacing_mm": 0.2,
        }
    )
    clinical = pd.DataFrame(
        {
            "patient_id": ["P1"], "exam_id": ["P1-E1"], "day": [0], "spo2": [95.0], "fio2": [0.21],
            "sf_ratio": [95 / 0.21], "o2_device": ["room_air"], "age": [60.0], "sex": ["F"],
            "etiology": ["covid19"], "readmit_30d": [0], "discharge_exam_id": ["P1-E1"],
        }
    )
    return frames, clinical


def _arrays(n, a=2, h=16, w=20, seed=0):
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (n, h, w), dtype=np.uint8)
    conf = (rng.integers(0, 11, (n, a, len(CLASS_NAMES), h, w)) * 10).astype(np.uint8)
    truth = rng.random((n, len(CLASS_NAMES), h, w)) < 0.3
    return img, conf, truth


def test_round_trip(tmp_path):
    n = 5
    img, conf, truth = _arrays(n)
    frames, clinical = _tables(n)
    with CohortWriter(tmp_path / "c", n, 16, 20, 2, with_truth=True, chunk_frames=2) as w:
        w.write(0, img[:3], conf[:3], truth[:3])
        w.write(3, img[3:], conf[3:], truth[3:])
        w.finish({"source": {"kind": "test"}}, frames, clinical)
    c = lusfeat.open_cohort(tmp_path / "c")
    assert c.n_frames == n and c.shape == (16, 20) and c.n_annotators == 2
    np.testing.assert_array_equal(c.images[:], img)
    np.testing.assert_array_equal(c.confidence[1:4], conf[1:4])
    np.testing.assert_array_equal(c.truth[:], truth)
    assert list(c.frames["frame_id"]) == list(frames["frame_id"])
    assert c.meta["classes"] == list(CLASS_NAMES)
    assert c.meta["pixel_spacing_mm"] == 0.2 and c.meta["probe"] == "linear"
    assert "Cohort(" in repr(c)
    # lazy: arrays are not NumPy until sliced
    assert not isinstance(c.images, np.ndarray)


def test_writer_leaves_nothing_on_error(tmp_path):
    n = 3
    img, conf, _ = _arrays(n)
    frames, clinical = _tables(n)
    with pytest.raises(RuntimeError):
        with CohortWriter(tmp_path / "c", n, 16, 20, 2) as w:
            w.write(0, img, conf)
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(InputError, match="without finish"):
        with CohortWriter(tmp_path / "c", n, 16, 20, 2) as w:
            w.write(0, img, conf)
    assert list(tmp_path.iterdir()) == []


def test_writer_rejects_bad_input(tmp_path):
    n = 2
    img, conf, _ = _arrays(n)
    frames, clinical = _tables(n)
    with pytest.raises(InputError, match="exceeds 100"):
        with CohortWriter(tmp_path / "c", n, 16, 20, 2) as w:
            bad = conf.copy()
            bad[0, 0, 0, 0, 0] = 101
            w.write(0, img, bad)
    with pytest.raises(InputError, match="images must be"):
        with CohortWriter(tmp_path / "c", n, 16, 20, 2) as w:
            w.write(0, img[:, :8], conf)
    with pytest.raises(InputError, match="never written"):
        with CohortWriter(tmp_path / "c", n, 16, 20, 2) as w:
            w.write(0, img[:1], conf[:1])
            w.finish({}, frames, clinical)
    assert not (tmp_path / "c").exists()


def test_existing_output_needs_overwrite(tmp_path):
    n = 1
    img, conf, _ = _arrays(n)
    frames, clinical = _tables(n)
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "keep.txt").write_text("x")
    with pytest.raises(InputError, match="--overwrite"):
        CohortWriter(tmp_path / "c", n, 16, 20, 2).__enter__()
    assert (tmp_path / "c" / "keep.txt").exists()
    with CohortWriter(tmp_path / "c", n, 16, 20, 2, overwrite=True) as w:
        w.write(0, img, conf)
        w.finish({}, frames, clinical)
    assert not (tmp_path / "c" / "keep.txt").exists()
    assert open_cohort(tmp_path / "c").n_frames == 1


def test_open_errors(tmp_path):
    with pytest.raises(CohortError, match="does not exist"):
        open_cohort(tmp_path / "nope")
    (tmp_path / "x").mkdir()
    with pytest.raises(CohortError, match="cohort.json"):
        open_cohort(tmp_path / "x")
    (tmp_path / "x" / "cohort.json").write_text(json.dumps({"format": "lusfeat-cohort", "format_version": 99}))
    with pytest.raises(CohortError, match="format_version 99"):
        open_cohort(tmp_path / "x")


def test_mask_set_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    m = rng.random((4, 5, 8, 8)) < 0.5
    p = rng.random((4, 5, 8, 8)).astype(np.float32)
    with MaskWriter(tmp_path / "m", 4, 8, 8, with_probabilities=True) as w:
        w.write(0, m, p)
        w.finish({"producer": "test"})
    ms = open_masks(tmp_path / "m")
    np.testing.assert_array_equal(ms.masks[:], m)
    np.testing.assert_array_equal(ms.probabilities[:], np.rint(p * 255).astype(np.uint8))
    assert ms.meta["producer"] == "test" and ms.n_frames == 4
