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
from lusfeat.testing._cuda_twin import border_bits, hull_stream, pack_bits, runs_from_bits

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


def test_array_path_cupy_branches_on_numpy(monkeypatch):
    """The CuPy-only branches of the array path (scatter, counting) agree with NumPy's."""
    import sys
    import types

    from lusfeat.features._lus import frame_features
    from lusfeat.features._props import component_columns
    from lusfeat.features._runs import label_planes
    from lusfeat.testing import random_masks

    class _XP(types.ModuleType):  # NumPy under another name, so `xp is np` is False
        def __getattr__(self, name):
            return getattr(np, name)

    fake_xp = _XP("fake_xp")
    fake_cupy = types.ModuleType("cupy")
    fake_cupy.get_array_module = lambda *args: fake_xp
    fake_cupyx = types.ModuleType("cupyx")
    fake_cupyx.scatter_add = lambda a, idx, v: np.add.at(a, idx, v)
    fake_cupyx.scatter_max = lambda a, idx, v: np.maximum.at(a, idx, v)

    rng = np.random.default_rng(5)
    m = random_masks(rng, 5, 40, 32)
    m[0] = False
    img = rng.integers(0, 256, (5, 40, 32), dtype=np.uint8)
    sp = np.array([np.nan, 0.2, 0.3, 1.0, np.nan])
    n, c, h, w = m.shape
    stats, hper = label_planes(m.reshape(n * c, h, w).view(np.uint8), img, np.arange(n * c) // c)
    expected = frame_features(m, img, sp, component_columns(stats, hper))
    monkeypatch.setitem(sys.modules, "cupy", fake_cupy)
    monkeypatch.setitem(sys.modules, "cupyx", fake_cupyx)
    got = frame_features(m, img, sp, component_columns(stats, hper))
    for k in expected:
        np.testing.assert_allclose(got[k], expected[k], rtol=1e-12, equal_nan=True, err_msg=k)
