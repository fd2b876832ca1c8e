"""Shared helpers of the feature tests: random masks and parity checks."""

from __future__ import annotations

import numpy as np

#: Component columns compared exactly (integers).
INT_COLS = ("frame", "class_index", "label", "area", "bbox_min_row", "bbox_min_col",
            "bbox_max_row", "bbox_max_col", "area_convex")
#: Columns derived from sqrt of a possibly-zero eigenvalue: absolute tolerance too.
SQRT_COLS = ("axis_minor_length", "eccentricity", "axis_major_length")


def random_masks(rng: np.random.Generator, n: int, h: int, w: int) -> np.ndarray:
    """Rectangles, lines and salt noise in all five classes: (n, 5, h, w) bool."""
    m = np.zeros((n, 5, h, w), bool)
    for i in range(n):
        for c in range(5):
            for _ in range(rng.integers(0, 4)):
                r0, c0 = rng.integers(0, h), rng.integers(0, w)
                m[i, c, r0:r0 + rng.integers(1, h // 2 + 2), c0:c0 + rng.integers(1, w // 3 + 2)] = True
        m[i] ^= rng.random((5, h, w)) < 0.01
    return m


def assert_components_equal(ref: dict, got: dict) -> None:
    """cpu/cuda component columns equal the reference (ints exact, floats 1e-9 relative)."""
    assert set(ref) == set(got)
    k = len(ref["label"])
    assert len(got["label"]) == k
    for name in ref:
        a, b = np.asarray(ref[name]), np.asarray(got[name])
        if name in INT_COLS:
            np.testing.assert_array_equal(a, b, err_msg=name)
        elif name == "orientation":
            l1 = np.asarray(ref["axis_major_length"]) ** 2
            l2 = np.asarray(ref["axis_minor_length"]) ** 2
            iso = np.abs(l1 - l2) <= 1e-9 * np.maximum(l1, 1e-300)
            d = np.abs(a - b)
            d = np.minimum(d, np.abs(d - np.pi))  # modulo pi
            assert np.all((d <= 1e-9) | iso), (name, np.flatnonzero(~((d <= 1e-9) | iso))[:5])
        else:
            atol = 1e-6 if name in SQRT_COLS else 1e-12
            np.testing.assert_allclose(b, a, rtol=1e-9, atol=atol, equal_nan=True, err_msg=name)


def assert_frames_equal(ref: dict, got: dict) -> None:
    """Frame feature columns equal (1e-9 relative, 1e-9 absolute for near-zero residuals)."""
    assert set(ref) == set(got)
    for name in ref:
        np.testing.assert_allclose(np.asarray(got[name]), np.asarray(ref[name]), rtol=1e-9,
                                   atol=1e-9, equal_nan=True, err_msg=name)
