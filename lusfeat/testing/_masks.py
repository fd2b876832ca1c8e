"""Random class masks for tests and benchmarks."""

from __future__ import annotations

import numpy as np

__all__ = ["random_masks"]


def random_masks(rng: np.random.Generator, n: int, h: int, w: int) -> np.ndarray:
    """Rectangles, lines and salt noise in all five classes.

    Parameters
    ----------
    rng : numpy.random.Generator
    n, h, w : int
        Frames and frame size (pixels).

    Returns
    -------
    (n, 5, h, w) bool
    """
    m = np.zeros((n, 5, h, w), bool)
    for i in range(n):
        for c in range(5):
            for _ in range(rng.integers(0, 4)):
                r0, c0 = rng.integers(0, h), rng.integers(0, w)
                m[i, c, r0:r0 + rng.integers(1, h // 2 + 2), c0:c0 + rng.integers(1, w // 3 + 2)] = True
        m[i] ^= rng.random((5, h, w)) < 0.01
    return m
