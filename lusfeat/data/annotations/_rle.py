"""Run-length encodings of binary masks: COCO (column-major, optionally compressed) and CVAT.

COCO RLE (``{"size": [H, W], "counts": ...}``) walks the mask in column-major (Fortran)
order and stores alternating run lengths, starting with a run of zeros (which may be
empty). ``counts`` is either a list of integers or the compressed string of the COCO API:
each count (from the fourth on, as the difference to the count two places before) is
written in 5-bit groups, least significant first, each group plus 48 as one ASCII
character, bit 6 (``0x20``) meaning "more groups follow" and bit 5 (``0x10``) of the last
group the sign.

CVAT RLE walks the mask's bounding box (``left, top, width, height``) in row-major order
and also starts with a run of zeros.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "rle_counts", "rle_decode", "coco_rle_encode", "coco_rle_decode",
    "compress_counts", "decompress_counts", "cvat_rle_encode", "cvat_rle_decode",
]


def rle_counts(flat: np.ndarray) -> list[int]:
    """Alternating run lengths of a flat binary vector, starting with zeros.

    Parameters
    ----------
    flat : (P,) bool

    Returns
    -------
    list of int
        Sums to ``P``; the first entry is 0 when ``flat`` starts with a one.
    """
    v = np.asarray(flat, bool).ravel()
    if v.size == 0:
        return []
    change = np.flatnonzero(v[1:] != v[:-1]) + 1
    edges = np.concatenate(([0], change, [v.size]))
    runs = np.diff(edges).tolist()
    return ([0] + runs) if v[0] else runs


def rle_decode(counts: Sequence[int], size: int) -> np.ndarray:
    """Flat binary vector of length ``size`` from alternating run lengths (zeros first).

    Raises
    ------
    ValueError
        When a count is negative or the counts do not sum to ``size``.
    """
    c = np.asarray([int(x) for x in counts], np.int64)
    if (c < 0).any():
        raise ValueError("RLE counts must be non-negative")
    if int(c.sum()) != int(size):
        raise ValueError(f"RLE counts sum to {int(c.sum())} pixels, but the mask has {int(size)}")
    values = np.arange(c.size) % 2 == 1
    return np.repeat(values, c)


def compress_counts(counts: Sequence[int]) -> str:
    """COCO's compressed string form of RLE counts (the COCO API's ``rleToString``)."""
    out: list[str] = []
    cnts = [int(x) for x in counts]
    for i, x in enumerate(cnts):
        if i > 2:
            x -= cnts[i - 2]
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = (x != -1) if (c & 0x10) else (x != 0)
            if more:
                c |= 0x20
            out.append(chr(c + 48))
    return "".join(out)


def decompress_counts(text: str) -> list[int]:
    """RLE counts from COCO's compressed string (the COCO API's ``rleFrString``).

    Raises
    ------
    ValueError
        On a character outside the encoding's range or a string ending inside a count.
    """
    counts: list[int] = []
    p, n = 0, len(text)
    while p < n:
        x, k, more = 0, 0, True
        while more:
            if p >= n:
                raise ValueError("compressed RLE string ends inside a count")
            c = ord(text[p]) - 48
            if not 0 <= c < 64:
                raise ValueError(f"character {text[p]!r} is not part of a compressed RLE string")
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts


def coco_rle_encode(mask: np.ndarray, *, compressed: bool = True) -> dict:
    """COCO RLE of a binary mask.

    Parameters
    ----------
    mask : (H, W) bool
    compressed : bool
        Write ``counts`` as the compressed string (else a list of integers).

    Returns
    -------
    dict
        ``{"size": [H, W], "counts": str | list[int]}``.
    """
    m = np.asarray(mask, bool)
    counts = rle_counts(m.ravel(order="F"))
    return {"size": [int(m.shape[0]), int(m.shape[1])], "counts": compress_counts(counts) if compressed else counts}


def coco_rle_decode(rle: dict) -> np.ndarray:
    """Binary mask ``(H, W) bool`` from a COCO RLE dict (compressed or not).

    Raises
    ------
    ValueError
        When ``size`` or ``counts`` is malformed or the counts do not cover the mask.
    """
    try:
        h, w = (int(v) for v in rle["size"])
        counts = rle["counts"]
    except (KeyError, TypeError, ValueError):
        raise ValueError("RLE needs 'size': [height, width] and 'counts'") from None
    if isinstance(counts, (bytes, str)):
        counts = decompress_counts(counts.decode("ascii") if isinstance(counts, bytes) else counts)
    elif not isinstance(counts, list):
        raise ValueError("RLE 'counts' must be a list of integers or a compressed string")
    flat = rle_decode(counts, h * w)
    return flat.reshape((h, w), order="F")


def cvat_rle_encode(mask: np.ndarray) -> tuple[list[int], tuple[int, int, int, int]]:
    """CVAT RLE of a mask's bounding box.

    Parameters
    ----------
    mask : (H, W) bool
        Must hold at least one pixel.

    Returns
    -------
    counts : list of int
        Row-major runs over the box, zeros first.
    box : (left, top, width, height)
    """
    m = np.asarray(mask, bool)
    ys, xs = np.nonzero(m)
    if ys.size == 0:
        raise ValueError("an empty mask has no CVAT RLE")
    top, left = int(ys.min()), int(xs.min())
    bottom, right = int(ys.max()), int(xs.max())
    crop = m[top : bottom + 1, left : right + 1]
    return rle_counts(crop.ravel()), (left, top, right - left + 1, bottom - top + 1)


def cvat_rle_decode(counts: Sequence[int], left: int, top: int, width: int, height: int,
                    shape: tuple[int, int]) -> np.ndarray:
    """Full-frame mask ``(H, W) bool`` from a CVAT RLE of the box ``left, top, width, height``.

    Pixels of the box that fall outside the frame are dropped.
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"mask box {width} x {height} is empty")
    crop = rle_decode(counts, width * height).reshape(height, width)
    out = np.zeros(shape, bool)
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + height, shape[0]), min(left + width, shape[1])
    if y1 > y0 and x1 > x0:
        out[y0:y1, x0:x1] = crop[y0 - top : y1 - top, x0 - left : x1 - left]
    return out
