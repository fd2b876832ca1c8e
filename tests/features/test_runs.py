"""The row-run cpu backend equals the scikit-image reference, on adversarial masks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from lusfeat.features._compute import run_backend
from lusfeat.testing import assert_parity, random_masks


def _both(masks, images=None, spacing=None):
    ref = run_backend(masks, images, spacing, "reference")
    cpu = run_backend(masks, images, spacing, "cpu")
    assert_parity(ref, cpu)
    return ref, cpu


def _special(h: int, w: int) -> list[np.ndarray]:
    yy, xx = np.mgrid[:h, :w]
    out = [np.zeros((h, w), bool), np.ones((h, w), bool), (yy + xx) % 2 == 0,
           yy == xx, (yy + xx) == min(h, w) - 1, (yy % 3 == 0) | (xx % 4 == 1)]
    ring = np.zeros((h, w), bool)
    ring[1:-1, 1:-1] = True
    ring[2:-2, 2:-2] = False  # holes
    out.append(ring)
    one = np.zeros((h, w), bool)
    one[0, 0] = one[h - 1, w - 1] = one[h // 2, w // 2] = True
    if w > 2:
        one[0, 1:3] = [False, True]
    out.append(one)
    return out


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (7, 1), (2, 2), (5, 9), (13, 6), (31, 17), (9, 16), (4, 64)])
def test_special_planes(shape):
    planes = _special(*shape)
    masks = np.zeros((len(planes), 5, *shape), bool)
    for i, p in enumerate(planes):
        masks[i, i % 5] = p
        masks[i, (i + 2) % 5] = ~p
    _both(masks)


def test_single_and_two_pixel_objects_have_known_props():
    m = np.zeros((1, 5, 8, 8), bool)
    m[0, 1, 3, 3] = True
    m[0, 1, 6, 6:8] = True  # two pixels touching the right edge
    (fr, comps), _ = _both(m)
    np.testing.assert_array_equal(comps["area"], [1, 2])
    np.testing.assert_array_equal(comps["area_convex"], [1, 2])
    np.testing.assert_allclose(comps["solidity"], [1.0, 1.0])
    assert fr["a_line_count"][0] == 2


def test_diagonal_is_one_component_under_8_connectivity():
    m = np.zeros((1, 5, 6, 6), bool)
    m[0, 2] = np.eye(6, dtype=bool)
    _, (_, comps) = _both(m)
    assert len(comps["label"]) == 1
    assert comps["area"][0] == 6


@settings(max_examples=40, deadline=None)
@given(arrays(np.bool_, st.tuples(st.just(1), st.just(5), st.integers(1, 19), st.integers(1, 23)),
              elements=st.booleans()))
def test_hypothesis_masks_match_reference(masks):
    _both(masks)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([np.nan, 0.1, 0.3, 1.7]))
def test_random_scenes_with_images_and_spacing(seed, spacing):
    rng = np.random.default_rng(seed)
    m = random_masks(rng, 3, 40, 33)
    img = rng.integers(0, 256, (3, 40, 33), dtype=np.uint8)
    _both(m, img, spacing)


def test_labels_follow_raster_order_of_first_pixel():
    m = np.zeros((1, 5, 10, 10), bool)
    m[0, 0, 5:9, 0] = True   # starts at row 5
    m[0, 0, 0, 8:10] = True  # starts at row 0 -> label 1
    m[0, 0, 2, 2] = True     # row 2 -> label 2
    _, (_, comps) = _both(m)
    np.testing.assert_array_equal(comps["bbox_min_row"], [0, 2, 5])


@pytest.mark.parametrize("with_images", [False, True])
def test_cpu_backend_in_slices_equals_one_call(with_images):
    """The CPU backend computes 16 frames at a time; the joined outputs equal one call on all frames
    (frame features, and component rows with their batch-relative frame index)."""
    from lusfeat.features._compute import CPU_SLICE_FRAMES, _in_slices, _run_cpu
    from lusfeat.testing import random_masks

    rng = np.random.default_rng(3)
    n = 2 * CPU_SLICE_FRAMES + 5
    masks = random_masks(rng, n, 40, 48)
    images = rng.integers(0, 256, (n, 40, 48), dtype=np.uint8) if with_images else None
    spacing = rng.uniform(0.1, 0.5, n)
    whole = _run_cpu(np.ascontiguousarray(masks), images, spacing)
    sliced = _in_slices(_run_cpu, masks, images, spacing)
    for a, b in zip(whole, sliced, strict=True):
        assert list(a) == list(b)
        for k in a:
            assert a[k].dtype == b[k].dtype, k
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    assert sliced[1]["frame"].max() >= 2 * CPU_SLICE_FRAMES  # rows of the last slice were offset
