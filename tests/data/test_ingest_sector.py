"""Scan-region detection and per-frame preprocessing on synthetic frames."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lusfeat import InputError
from lusfeat.data.ingest import detect_scan_region, preprocess_frame

from .ingest_helpers import fan_frame, rect_frame


def test_fan_region_matches_truth_and_excludes_text():
    img, fan = fan_frame()
    r = detect_scan_region(img)
    assert r.kind == "sector"
    inter = (r.mask & fan).sum()
    union = (r.mask | fan).sum()
    assert inter / union > 0.95
    assert not r.mask[4:12, 3:22].any()  # burned-in text is outside the region
    assert r.mask[img.shape[0] // 2 + 20, img.shape[1] // 2]


@settings(max_examples=15, deadline=None)
@given(
    y0=st.integers(0, 30), x0=st.integers(0, 40),
    h=st.integers(30, 60), w=st.integers(30, 80), seed=st.integers(0, 100),
)
def test_rectangle_bbox_is_exact(y0, x0, h, w, seed):
    img = rect_frame(100, 140, (y0, y0 + h, x0, x0 + w), seed=seed)
    r = detect_scan_region(img)
    assert r.kind == "rectangle"
    assert r.bbox == (y0, y0 + h, x0, x0 + w)


def test_stack_uses_all_frames():
    a, fan = fan_frame(seed=1)
    b = a.copy()
    a[60:, :] = 0  # deep part dark in one frame only
    r = detect_scan_region(np.stack([a, b]))
    assert (r.mask & fan).sum() / fan.sum() > 0.95


def test_bad_shape_is_input_error():
    with pytest.raises(InputError, match="expects"):
        detect_scan_region(np.zeros((2, 3, 4, 5), np.uint8))


def test_preprocess_masks_outside_and_records_geometry():
    img, fan = fan_frame(rgb=True)
    r = detect_scan_region(img)
    out, rec = preprocess_frame(img, r, 64)
    assert out.shape == (64, 64) and out.dtype == np.uint8
    y0, y1, x0, x1 = r.bbox
    side = max(y1 - y0, x1 - x0)
    assert rec["scale"] == pytest.approx(64 / side)
    assert (rec["crop_y0"], rec["crop_y1"], rec["crop_x0"], rec["crop_x1"]) == r.bbox
    assert rec["colour_pixels"] == 24  # the yellow caliper inside the fan
    # the corners (outside the fan) are black, the centre is not
    assert out[0, 0] == 0 and out[0, -1] == 0
    assert out[40:50, 28:36].mean() > 30


def test_colour_overlay_inside_region_is_filled_with_gray():
    img, _ = fan_frame(rgb=True)
    r = detect_scan_region(img)
    out, rec = preprocess_frame(img, r, 160)
    # the fan texture is 40-199; the yellow caliper's luma (226) and the white text (255)
    # would exceed it if the overlay were kept as gray or the text were not masked
    assert rec["colour_pixels"] > 0
    assert out.max() <= 202
    luma = np.rint(img @ np.array([0.299, 0.587, 0.114])).astype(np.uint8)
    plain, _ = preprocess_frame(luma, r, 160)
    assert plain.max() > 202  # the same frame read without colour handling keeps the mark


@settings(max_examples=20, deadline=None)
@given(
    y0=st.integers(0, 20), x0=st.integers(0, 30), h=st.integers(30, 70), w=st.integers(30, 90),
    size=st.sampled_from([32, 64, 100]), fy=st.floats(0.1, 0.9), fx=st.floats(0.1, 0.9),
)
def test_documented_mapping_back_to_original_pixels(y0, x0, h, w, size, fy, fx):
    """A bright block at original (y, x) lands at the stored pixel the docs' formula gives."""
    from lusfeat.data.ingest._preprocess import apply_geometry, geometry

    img = rect_frame(100, 140, (y0, y0 + h, x0, x0 + w))
    r = detect_scan_region(img)
    geo = geometry(r, size)
    y, x = y0 + int(fy * h), x0 + int(fx * w)
    plane = np.zeros(img.shape)
    plane[y - 1 : y + 2, x - 1 : x + 2] = 100.0  # 3x3 block survives any shrink
    out = apply_geometry(plane, r, geo, size, smooth=False)
    ys = (y - geo["crop_y0"] + geo["pad_top"] + 0.5) * geo["scale"] - 0.5
    xs = (x - geo["crop_x0"] + geo["pad_left"] + 0.5) * geo["scale"] - 0.5
    gy, gx = np.mgrid[0:size, 0:size]
    cy, cx = (gy * out).sum() / out.sum(), (gx * out).sum() / out.sum()  # centre of the block
    assert abs(cy - ys) <= 0.5 and abs(cx - xs) <= 0.5
