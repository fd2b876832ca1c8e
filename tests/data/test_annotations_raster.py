"""Rasterisation and RLE: hand-computed small cases and round trips."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from lusfeat.data.annotations import (
    Shape,
    coco_rle_decode,
    coco_rle_encode,
    compress_counts,
    confidence_planes,
    cvat_rle_decode,
    cvat_rle_encode,
    decompress_counts,
    rasterise,
    rle_counts,
)


def shape(kind, points=(), **kw):
    return Shape(kind=kind, label="b_line", source="f.png", frame=0, annotator="a", where="test", points=points, **kw)


def grid(rows: list[str]) -> np.ndarray:
    return np.array([[ch == "#" for ch in r] for r in rows])


def test_box_includes_pixels_whose_centres_lie_inside_or_on_the_edges():
    got = rasterise(shape("box", [[1, 1], [3, 3]]), (5, 5))
    assert np.array_equal(got, grid([".....", ".##..", ".##..", ".....", "....."]))
    # centres 0.5, 1.5, 2.5 lie on or inside [0.5, 2.5]
    got = rasterise(shape("box", [[0.5, 0.5], [2.5, 2.5]]), (4, 4))
    assert np.array_equal(got, grid(["###.", "###.", "###.", "...."]))


def test_polygon_edges_count_as_inside():
    # x + y <= 4 at the centres (c + .5, r + .5): c + r <= 3, the anti-diagonal lies on the edge
    got = rasterise(shape("polygon", [[0, 0], [4, 0], [0, 4]]), (4, 4))
    assert np.array_equal(got, grid(["####", "###.", "##..", "#..."]))
    assert got.sum() == 10


def test_concave_polygon_even_odd():
    # a U shape: the notch (columns 2, rows 0-1) stays empty
    u = [[0, 0], [2, 0], [2, 2], [3, 2], [3, 0], [5, 0], [5, 4], [0, 4]]
    got = rasterise(shape("polygon", u), (4, 5))
    assert np.array_equal(got, grid(["##.##", "##.##", "#####", "#####"]))


def test_ellipse_and_rotation():
    e = shape("ellipse", [[2.5, 2.5], [1, 2]])
    assert np.array_equal(rasterise(e, (5, 5)), grid(["..#..", "..#..", ".###.", "..#..", "..#.."]))
    e.rotation = 90.0
    assert np.array_equal(rasterise(e, (5, 5)), grid([".....", "..#..", "#####", "..#..", "....."]))


def test_rotated_box():
    # a 4 x 2 box centred at (2.5, 2.5) turned by 90 degrees becomes 2 x 4
    b = shape("box", [[0.5, 1.5], [4.5, 3.5]], rotation=90.0)
    assert np.array_equal(rasterise(b, (5, 5)), grid([".###.", ".###.", ".###.", ".###.", ".###."]))


def test_polyline_width():
    line = [[0.5, 2.5], [4.5, 2.5]]
    assert np.array_equal(rasterise(shape("polyline", line), (5, 5), line_width=1),
                          grid([".....", ".....", "#####", ".....", "....."]))
    assert np.array_equal(rasterise(shape("polyline", line, width=3.0), (5, 5), line_width=1),
                          grid([".....", "#####", "#####", "#####", "....."]))


def test_points_fill_the_pixel_that_contains_them():
    got = rasterise(shape("points", [[3.2, 1.7], [0.0, 0.0], [5.0, 5.0]]), (5, 5), line_width=1)
    assert np.argwhere(got).tolist() == [[0, 0], [1, 3]]


def test_shape_partly_outside_is_clipped():
    got = rasterise(shape("box", [[-10, -10], [1, 1]]), (3, 3))
    assert np.argwhere(got).tolist() == [[0, 0]]
    assert not rasterise(shape("box", [[10, 10], [12, 12]]), (3, 3)).any()


def test_overlapping_shapes_of_one_class_take_the_highest_confidence():
    a = shape("box", [[0, 0], [2, 2]])
    b = shape("box", [[1, 1], [3, 3]])
    planes = confidence_planes([(a, "b_line", 40.0), (b, "b_line", 70.0), (a, "effusion", 20.0)], (3, 3))
    assert planes.shape == (5, 3, 3)
    assert planes[2].tolist() == [[40, 40, 0], [40, 70, 70], [0, 70, 70]]
    assert planes[4].tolist() == [[20, 20, 0], [20, 20, 0], [0, 0, 0]]
    assert not planes[[0, 1, 3]].any()


def test_cvat_rle_hand_case():
    # box left=1, top=0, 3 x 2: rows "#.#" and "##.", row-major runs zeros first: 0,1,1,3,1
    m = cvat_rle_decode([0, 1, 1, 3, 1], 1, 0, 3, 2, (3, 5))
    assert np.array_equal(m, grid([".#.#.", ".##..", "....."]))
    counts, box = cvat_rle_encode(m)
    assert (counts, box) == ([0, 1, 1, 3, 1], (1, 0, 3, 2))
    with pytest.raises(ValueError, match="sum to 6 pixels, but the mask has 8"):
        cvat_rle_decode([1, 2, 3], 0, 0, 4, 2, (3, 5))


def test_coco_rle_hand_cases():
    # column-major: [[0, 1], [1, 1]] -> 0, 1, 1, 1 -> counts [1, 3] -> "13"
    m = np.array([[0, 1], [1, 1]], bool)
    assert coco_rle_encode(m, compressed=False) == {"size": [2, 2], "counts": [1, 3]}
    assert coco_rle_encode(m)["counts"] == "13"
    # the fourth count is stored as the difference 2 - 5 = -3 -> one character with the sign bit
    assert compress_counts([10, 5, 1, 2]) == ":51M"
    assert decompress_counts(":51M") == [10, 5, 1, 2]
    assert np.array_equal(coco_rle_decode({"size": [2, 2], "counts": "13"}), m)
    with pytest.raises(ValueError, match="ends inside a count"):
        decompress_counts("1o")


@given(arrays(bool, st.tuples(st.integers(1, 12), st.integers(1, 12))))
def test_coco_rle_round_trip(mask):
    for compressed in (True, False):
        assert np.array_equal(coco_rle_decode(coco_rle_encode(mask, compressed=compressed)), mask)


@given(st.lists(st.integers(0, 5000), min_size=0, max_size=30))
def test_compressed_counts_round_trip(counts):
    assert decompress_counts(compress_counts(counts)) == counts


@given(arrays(bool, st.tuples(st.integers(1, 9), st.integers(1, 9))))
def test_cvat_rle_round_trip(mask):
    if not mask.any():
        return
    counts, (left, top, w, h) = cvat_rle_encode(mask)
    assert sum(counts) == w * h
    assert np.array_equal(cvat_rle_decode(counts, left, top, w, h, mask.shape), mask)
    assert (rle_counts(mask.ravel())[0] == 0) == bool(mask.ravel()[0])


@given(st.integers(0, 12), st.integers(0, 12), st.integers(0, 12), st.integers(0, 12),
       st.sampled_from([0.0, 0.25, 0.5]))
def test_rectangle_polygon_equals_box(x0, y0, x1, y1, shift):
    x0, x1 = sorted((x0 + shift, x1 + shift))
    y0, y1 = sorted((y0 + shift, y1 + shift))
    box = rasterise(shape("box", [[x0, y0], [x1, y1]]), (10, 10))
    poly = rasterise(shape("polygon", [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]), (10, 10))
    assert np.array_equal(box, poly)
    cols = [c for c in range(10) if x0 <= c + 0.5 <= x1]
    rows = [r for r in range(10) if y0 <= r + 0.5 <= y1]
    assert box.sum() == len(cols) * len(rows)
