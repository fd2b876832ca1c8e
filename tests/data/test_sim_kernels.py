"""Compiled renderer steps against their NumPy expressions."""

from __future__ import annotations

import numpy as np
import pytest

from lusfeat.data import _sim_kernels as K
from lusfeat.data._sim_echo import _add_line, _line
from lusfeat.data._sim_scanner import _lookups


@pytest.mark.parametrize("key", [("linear", 1.0), ("linear", 0.6), ("convex", 0.3, 32.0, 1.0), ("convex", 0.9, 40.0, 0.45)])
@pytest.mark.parametrize("k", [1, 2])
def test_compiled_frame_steps_match_numpy(key, k):
    rng = np.random.default_rng(0)
    size = 48
    n = size * k
    lines = -(-n // 2) if n >= 128 else n
    h, w, wide = n, lines, lines + 5
    f = lambda *s: rng.standard_normal(s, dtype=np.float32)  # noqa: E731
    args = (f(h, w), f(h, w), f(h, wide), f(h, wide), f(h, wide), f(h, wide),
            np.abs(f(h, w)), np.abs(f(h, wide)), 0.5 + 0.1 * f(h, w))
    for col0, c, s in ((0, 1.0, 0.0), (3, 0.8, 0.6), (5, -0.2, 0.98)):
        scal = (col0, np.float32(c), np.float32(s), np.float32(0.6), np.float32(10 / 60))
        got = K.compose_log(*args, *scal)
        re = args[0] + scal[1] * args[2][:, col0 : col0 + w] + scal[2] * args[4][:, col0 : col0 + w]
        im = args[1] + scal[1] * args[3][:, col0 : col0 + w] + scal[2] * args[5][:, col0 : col0 + w]
        inten = (re**2 + im**2) * (1 - scal[3]) + args[6] + args[7][:, col0 : col0 + w]
        want = np.log10(np.maximum(inten, 1e-12)) * scal[4] + args[8]
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
    _, _, bil, _ = _lookups(size, k, key)
    pos, idx, *wts = bil
    pos = np.empty(0, np.int64) if pos is None else pos
    lut = np.rint(255 * np.linspace(0, 1, 1024) ** 2.0).astype(np.float32)
    img = (0.5 + 0.4 * f(h, w)).astype(np.float32)
    got = K.scan_convert(img, pos, idx, *wts, lut, n)
    want = K._convert_py(img, pos, idx, *wts, lut, n)
    assert got.shape == (n, n)
    # the grey map is a step function: a 1-ulp difference may move a pixel one step
    assert np.mean(got != want) < 1e-3 and np.max(np.abs(got - want)) <= 2


def test_band_limited_line_equals_full_profile():
    h, w = 64, 20
    i = np.arange(h, dtype=np.float32)[:, None]
    center = (20 + 5 * np.sin(np.arange(w) / 3)).astype(np.float32)[None, :]
    amp = np.linspace(0.5, 2.0, w, dtype=np.float32)[None, :]
    full = amp * _line(i, center, 1.5)
    out = np.zeros((h, w), np.float32)
    _add_line(out, center, 1.5, amp)
    np.testing.assert_allclose(out, full, rtol=0, atol=1e-6 * float(full.max()))
    part = np.zeros((h, w), np.float32)
    _add_line(part, center[:, 4:9], 1.5, amp[:, 4:9], slice(4, 9))
    np.testing.assert_allclose(part[:, 4:9], full[:, 4:9], rtol=0, atol=1e-6 * float(full.max()))
    assert not part[:, :4].any() and not part[:, 9:].any()
    off = np.zeros((h, w), np.float32)
    _add_line(off, np.float32(500.0), 1.0)  # a line far below the grid adds nothing
    assert not off.any()


@pytest.mark.parametrize("shape", [(40, 23), (3, 2), (1, 7)])
@pytest.mark.parametrize("mode", ["nearest", "wrap"])
@pytest.mark.parametrize("sigma", [0.3, 1.4, 4.0])
def test_gaussian_blur_equals_scipy(shape, mode, sigma):
    from scipy.ndimage import gaussian_filter1d

    x = np.random.default_rng(1).standard_normal(shape, dtype=np.float32)
    for axis in (0, 1):
        got = K.gaussian_blur(x, sigma, axis, mode, truncate=2.5)
        want = gaussian_filter1d(x, sigma, axis=axis, mode=mode, truncate=2.5)
        assert got.dtype == np.float32 and got.flags.c_contiguous
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
        np.testing.assert_allclose(K._depth_pass_py(x if axis == 0 else x.T.copy(), K.gaussian_kernel(sigma, 2.5),
                                                    mode == "wrap"), want if axis == 0 else want.T, rtol=0, atol=1e-6)


@pytest.mark.parametrize("shape", [(40, 23), (3, 2), (1, 7), (7, 1), (64, 50)])
@pytest.mark.parametrize("mode", ["wrap", "reflect"])
@pytest.mark.parametrize("width", [1, 2, 3, 8, 15])
def test_box_filter_equals_scipy(shape, mode, width):
    from scipy.ndimage import uniform_filter1d

    x = np.random.default_rng(2).standard_normal(shape, dtype=np.float32)
    for axis in (0, 1):  # windows longer than the line wrap or reflect more than once
        got = K.box_filter(x, width, axis, mode)
        want = uniform_filter1d(x, width, axis=axis, mode=mode)
        assert got.dtype == np.float32 and got.shape == x.shape
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
        np.testing.assert_allclose(K._box_py(x, width, axis, K._BOX_MODES[mode]), want, rtol=0, atol=0)


@pytest.mark.parametrize("shape", [(40, 23), (5, 3), (2, 1)])
@pytest.mark.parametrize("mode", ["nearest", "wrap"])
def test_lateral_pass_is_the_depth_pass_on_the_transpose_bit_for_bit(shape, mode):
    x = np.random.default_rng(3).standard_normal(shape, dtype=np.float32)
    for sigma in (0.4, 1.7, 6.0):  # kernels shorter and longer than the rows
        k = K.gaussian_kernel(sigma, 2.5)
        lat = K._lateral_pass(x, k, mode == "wrap")
        dep = K._depth_pass(np.ascontiguousarray(x.T), k, mode == "wrap").T
        np.testing.assert_array_equal(lat, dep)


def test_compiled_intensity_equals_numpy_bit_for_bit():
    rng = np.random.default_rng(4)
    h, w, wide = 30, 17, 24
    f = lambda *s: rng.standard_normal(s, dtype=np.float32)  # noqa: E731
    args = (f(h, w), f(h, w), f(h, wide), f(h, wide), f(h, wide), f(h, wide), np.abs(f(h, w)), np.abs(f(h, wide)))
    args[6][0, :3] = -1.0  # intensities below the floor are held at it
    for col0, c, s in ((0, 1.0, 0.0), (7, 0.8, 0.6)):
        sc = (col0, np.float32(c), np.float32(s), np.float32(0.6))
        np.testing.assert_array_equal(K._intensity(*args, *sc), K._intensity_py(*args, *sc))


@pytest.mark.parametrize("shape", [(1,), (7, 3), (2, 5, 9)])
def test_gaussian_noise_shape_dtype_and_seed(shape):
    a = K.gaussian_noise(np.random.default_rng(5), shape)
    b = K.gaussian_noise(np.random.default_rng(5), shape)
    assert a.shape == shape and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)


def test_gaussian_noise_is_standard_normal():
    from scipy import stats

    x = K.gaussian_noise(np.random.default_rng(6), (400_001,)).astype(np.float64)  # odd: the last pair cut
    assert abs(x.mean()) < 0.01 and abs(x.std() - 1) < 0.01
    assert abs(stats.kurtosis(x)) < 0.05 and abs(stats.skew(x)) < 0.02
    assert stats.kstest(x, "norm").pvalue > 0.01
    # the cosine and sine halves are independent normals too
    half = x[:200_000], x[200_001:400_001]
    assert abs(np.corrcoef(*half)[0, 1]) < 0.01
