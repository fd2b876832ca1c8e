"""The kernel's bit-level steps (Python transcriptions) agree with the cpu twin and scikit-image."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import ndimage as ndi
from skimage.measure import label, regionprops

from lusfeat.features import compute_components
from lusfeat.features._cuda_twin import border_bits, hull_stream, pack_bits, runs_from_bits

planes = arrays(np.bool_, st.tuples(st.integers(1, 12), st.integers(1, 70)), elements=st.booleans())


def _runs_simple(p):
    out = []
    for r in range(p.shape[0]):
        c = 0
        while c < p.shape[1]:
            if p[r, c]:
                s = c
                while c < p.shape[1] and p[r, c]:
                    c += 1
                out.append((r, s, c - 1))
            else:
                c += 1
    return out


def _unpack(bits, w):
    h, nw = bits.shape
    cols = np.arange(nw * 32)
    full = (bits[:, cols // 32] >> (cols % 32).astype(np.uint32)) & 1
    return full[:, :w].astype(bool)


@settings(max_examples=40, deadline=None)
@given(planes)
def test_bit_runs_and_border(p):
    bits = pack_bits(p)
    assert runs_from_bits(bits) == _runs_simple(p)
    cross = ndi.generate_binary_structure(2, 1)
    expected = p & ~ndi.binary_erosion(p, cross, border_value=0)
    np.testing.assert_array_equal(_unpack(border_bits(bits), p.shape[1]), expected)


@settings(max_examples=40, deadline=None)
@given(arrays(np.bool_, st.tuples(st.integers(1, 14), st.integers(1, 14)), elements=st.booleans()))
def test_streamed_hull_matches_scikit_image(p):
    masks = np.zeros((1, 5, *p.shape), bool)
    masks[0, 0] = p
    cpu = compute_components(masks, backend="cpu")
    for k, reg in enumerate(regionprops(label(p, connectivity=2))):
        rows = {}
        for r, c in reg.coords:
            a, b = rows.get(r, (c, c))
            rows[r] = (min(a, c), max(b, c))
        extremes = [(r, *rows[r]) for r in sorted(rows)]
        count, per = hull_stream(extremes)
        assert count == int(reg.area_convex)
        assert per == pytest.approx(cpu["perimeter_convex"][k], rel=1e-12)
