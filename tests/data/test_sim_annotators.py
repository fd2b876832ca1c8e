"""The simulator's annotator model (:mod:`lusfeat.data._sim_annotators`)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lusfeat.data._sim_annotators import _low, _paint_blines, annotate_clip, make_annotators
from lusfeat.data._sim_regions import _bline_region, lung_surface
from lusfeat.data._sim_scene import BLine, sample_scene


def _readings(severity, n_clips, size=64, seed=0):
    anns = make_annotators(np.random.default_rng(seed), 3)
    for k in range(n_clips):
        rng = np.random.default_rng(1000 * seed + k)
        scene = sample_scene(rng, severity, size, size, "linear" if k % 2 else "convex", True, 4)
        yield scene, annotate_clip(scene, anns, rng)


@pytest.mark.parametrize("severity", [0.0, 2.5, 5.0])
def test_confidence_is_a_multiple_of_ten(severity):
    for _, planes in _readings(severity, 20, seed=1):
        for p in planes:
            for cls, v in p.items():
                assert v.dtype == np.uint8, cls
                assert set(np.unique(v).tolist()) <= set(range(0, 101, 10)), cls


def test_doubtful_regions_on_a_normal_lung_are_unsure_and_vary_by_reading():
    """Normal lungs (no B-lines, no consolidation): whatever is marked as one is
    marked at 10-40%, and how much depends on the reading (most mark little, sloppy
    ones mark a lot)."""
    marked = []
    for scene, planes in _readings(0.0, 120, seed=2):
        if scene.blines or scene.consolidations:
            continue
        for p in planes:
            assert p["b_line"].max() <= 40 and p["consolidation"].max() <= 40
            marked.append((p["b_line"] > 0).any(axis=0).mean())
    marked = np.array(marked)
    assert len(marked) > 300
    assert (marked == 0).mean() > 0.15  # careful readings often mark nothing
    assert (marked > 1 / 3).mean() > 0.05  # sloppy ones mark a third of the width or more
    assert np.median(marked) < 0.15


def test_same_rng_same_labels():
    a = [p for _, ps in _readings(3.0, 3, seed=4) for p in ps]
    b = [p for _, ps in _readings(3.0, 3, seed=4) for p in ps]
    for pa, pb in zip(a, b, strict=True):
        for cls in pa:
            assert np.array_equal(pa[cls], pb[cls]), cls


def test_bline_painting_matches_per_region_painting():
    for k in range(20):
        rng = np.random.default_rng(k)
        scene = sample_scene(rng, 4.0, 96, 96, "linear", True, 6)
        zl = lung_surface(scene)
        blines = [
            (BLine(float(rng.uniform(0, scene.wide)), float(rng.uniform(1, 8)), 0.5), int(rng.integers(1, 11)) * 10)
            for _ in range(int(rng.integers(1, 6)))
        ]
        halo = float(rng.uniform(0, 4))
        fast = np.zeros((96, scene.wide), np.uint8)
        slow = fast.copy()
        _paint_blines(fast, blines, zl, halo, np.random.default_rng(1))
        r = np.random.default_rng(1)
        for b, conf in blines:
            _bline_region(slow, b, zl, halo, _low(conf, r))
            _bline_region(slow, b, zl, 0.0, conf)
        assert np.array_equal(fast, slow), k


@given(center=st.floats(0, 160), width=st.floats(1, 12), widen=st.floats(0, 0.3),
       length=st.one_of(st.just(float("inf")), st.floats(3, 150)), halo=st.floats(0, 8),
       conf=st.sampled_from([20, 40, 60, 80, 100]), seed=st.integers(0, 1000))
@settings(max_examples=60, deadline=None)
def test_one_pass_b_line_reading_equals_halo_then_core(center, width, widen, length, halo, conf, seed):
    from lusfeat.data._sim_regions import _bline_region, bline_reading
    from lusfeat.data._sim_scene import BLine

    rng = np.random.default_rng(seed)
    b = BLine(center=center, width=width, brightness=0.7, scale=0.5, widen=widen, length=length)
    zl = rng.uniform(10, 60) + rng.normal(0, 2, 160).cumsum() * 0.1
    base = (rng.integers(0, 60, (128, 160)) * (rng.random((128, 160)) < 0.3)).astype(np.uint8)
    low = max(10, conf - 20 - 10 * int(rng.random() < 0.5))
    two = base.copy()
    _bline_region(two, b, zl, halo, low)
    _bline_region(two, b, zl, 0.0, conf)
    one = base.copy()
    bline_reading(one, b, zl, halo, low, conf)
    np.testing.assert_array_equal(one, two)
