"""Cohort scan behind the prevalence table and the choice of example frames."""

from __future__ import annotations

import numpy as np
import pytest

from lusfeat.data import open_cohort
from lusfeat.report._sec_cohort import _blocks, _choose_frames, scan_cohort


def test_scan_matches_direct_computation(tiny_cohort):
    c = open_cohort(tiny_cohort)
    scan = scan_cohort(c, chunk=50)
    conf = np.asarray(c.confidence[:])
    truth = np.asarray(c.truth[:])
    assert not scan.sampled and np.array_equal(scan.index, np.arange(c.n_frames))
    assert np.array_equal(scan.truth_pixels, truth.sum(axis=(2, 3)))
    assert np.array_equal(scan.labelled, (conf > 0).any(axis=(1, 3, 4)))
    assert np.array_equal(scan.fused_pixels, (conf.astype(float).mean(axis=1) >= 50).sum(axis=(2, 3)))


def test_scan_samples_whole_blocks(tiny_cohort):
    c = open_cohort(tiny_cohort)
    scan = scan_cohort(c, limit=64, chunk=16)
    assert scan.sampled and scan.index.size == 64
    assert np.array_equal(scan.truth_pixels, np.asarray(c.truth[:]).sum(axis=(2, 3))[scan.index])


@pytest.mark.parametrize("n, limit, chunk", [(10, 100, 4), (10_000, 2048, 64), (130, 64, 64), (65, 64, 64)])
def test_blocks_cover_at_most_limit(n, limit, chunk):
    blocks = _blocks(n, limit, chunk)
    covered = np.concatenate([np.arange(a, b) for a, b in blocks])
    assert np.unique(covered).size == covered.size and covered.min() >= 0 and covered.max() < n
    assert covered.size == n if n <= limit else covered.size <= max(limit, chunk)
    assert all(a % chunk == 0 for a, _ in blocks)


def test_examples_prefer_b_lines_with_consolidation(tiny_cohort):
    c = open_cohort(tiny_cohort)
    scan = scan_cohort(c)
    frames = _choose_frames(scan, c, 3)
    truth = np.asarray(c.truth[:]).any(axis=(2, 3))
    assert len(frames) == 3 and all(truth[f, 2] and truth[f, 3] for f in frames)
    assert len({c.frames["patient_id"].iloc[f] for f in frames}) == 3
    # more frames than patients: fill up after one frame per patient, never repeating a frame
    many = _choose_frames(scan, c, 10)
    assert len(many) == len(set(many)) == 10
