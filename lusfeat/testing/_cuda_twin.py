"""Python transcriptions of the CUDA kernel's bit-level steps, tested on the CPU.

:mod:`lusfeat.features._runs` is the algorithmic twin of the whole kernel; the steps below are
where the kernel does something :mod:`lusfeat.features._runs` does differently (bit-packed
words instead of bytes, hulls streamed row by row instead of from a per-X
table). Each function follows the CUDA source line by line so that a CPU test
can hold it to :mod:`lusfeat.features._runs` and scikit-image.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["pack_bits", "runs_from_bits", "border_bits", "hull_stream"]

_M32 = 0xFFFFFFFF


def pack_bits(plane: np.ndarray) -> np.ndarray:
    """(H, W) bool -> (H, ceil(W/32)) uint32 words, bit b of word k = column 32k + b (ballot order)."""
    h, w = plane.shape
    nw = (w + 31) // 32
    padded = np.zeros((h, nw * 32), dtype=np.uint64)
    padded[:, :w] = plane
    weights = (np.uint64(1) << np.arange(32, dtype=np.uint64))
    return (padded.reshape(h, nw, 32) * weights).sum(axis=2).astype(np.uint32)


def _ffs(x: int) -> int:
    return (x & -x).bit_length() - 1


def runs_from_bits(bits: np.ndarray) -> list[tuple[int, int, int]]:
    """Runs ``(row, start, end)`` in raster order, as the kernel's step 2 finds them."""
    h, nw = bits.shape
    runs = []
    for r in range(h):
        carry = 0
        open_ = -1
        for k in range(nw):
            x = int(bits[r, k])
            nxt = int(bits[r, k + 1]) if k + 1 < nw else 0
            st = x & ~(((x << 1) & _M32) | carry) & _M32
            en = x & ~((x >> 1) | ((nxt << 31) & _M32)) & _M32
            carry = x >> 31
            while st or en:
                bs = _ffs(st) if st else 99
                be = _ffs(en) if en else 99
                if st and bs <= be:
                    open_ = (k << 5) + bs
                    st &= st - 1
                else:
                    runs.append((r, open_, (k << 5) + be))
                    en &= en - 1
    return runs


def border_bits(bits: np.ndarray) -> np.ndarray:
    """Bit-parallel border mask: pixels minus their 4-cross erosion (border value 0)."""
    h, nw = bits.shape
    out = np.zeros_like(bits)
    for r in range(h):
        for k in range(nw):
            x = int(bits[r, k])
            prev = int(bits[r, k - 1]) if k > 0 else 0
            nxt = int(bits[r, k + 1]) if k + 1 < nw else 0
            left = ((x << 1) & _M32) | (prev >> 31)
            right = (x >> 1) | ((nxt << 31) & _M32)
            up = int(bits[r - 1, k]) if r > 0 else 0
            down = int(bits[r + 1, k]) if r + 1 < h else 0
            out[r, k] = x & ~(left & right & up & down) & _M32
    return out


def _push(st: list, X: int, Y: int, lower: bool) -> None:
    while len(st) >= 2:
        (x1, y1), (x2, y2) = st[-2], st[-1]
        cr = (x2 - x1) * (Y - y1) - (y2 - y1) * (X - x1)
        if (cr <= 0) if lower else (cr >= 0):
            st.pop()
        else:
            break
    st.append((X, Y))


def hull_stream(extremes: list[tuple[int, int, int]]) -> tuple[int, float]:
    """Convex area (integer points) and hull length from row extremes ``(row, a, b)``.

    ``extremes`` lists, for consecutive rows ``minr..maxr`` of one component,
    its leftmost and rightmost column. Follows ``hull_count`` in the kernel.
    """
    lo_st: list = []
    up_st: list = []

    def feed(X: int, ylo: int, yhi: int) -> None:
        _push(lo_st, X, ylo, True)
        _push(up_st, X, ylo, False)
        if yhi != ylo:
            _push(lo_st, X, yhi, True)
            _push(up_st, X, yhi, False)

    pa, pb = 0, -1
    for r, a, b in extremes:
        lo, hi = 2 * a, 2 * b
        if pb >= pa:
            lo, hi = min(lo, 2 * pa), max(hi, 2 * pb)
        feed(2 * r - 1, lo, hi)
        feed(2 * r, 2 * a - 1, 2 * b + 1)
        pa, pb = a, b
    feed(2 * extremes[-1][0] + 1, 2 * pa, 2 * pb)
    poly = lo_st + up_st[-2:0:-1]
    minr, maxr = extremes[0][0], extremes[-1][0]
    minc = min(a for _, a, _ in extremes)
    maxc = max(b for _, _, b in extremes)
    count = 0
    nv = len(poly)
    for r in range(minr, maxr + 1):
        rr, lo, hi = 2 * r, minc, maxc
        for i in range(nv):
            (xi, yi), (xj, yj) = poly[i], poly[(i + 1) % nv]
            dx, dy = xj - xi, yj - yi
            kk = dx * yi + dy * (rr - xi)
            if dx > 0:
                lo = max(lo, -((-kk) // (2 * dx)))
            elif dx < 0:
                hi = min(hi, kk // (2 * dx))
            elif -dy * (rr - xi) < 0:
                hi = lo - 1
        count += max(0, hi - lo + 1)
    per = sum(math.hypot(poly[(i + 1) % nv][0] - poly[i][0], poly[(i + 1) % nv][1] - poly[i][1])
              for i in range(nv))
    return count, per / 2.0
