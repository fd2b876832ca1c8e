"""Segmentation metrics per frame and class: Dice, IoU, precision, recall, HD95.

All functions take stacks of binary masks ``(N, C, H, W) bool`` (any leading
shape works) and return one value per plane.

Empty masks follow one documented rule:

=========================  =====  =====  =========  ======  ======
prediction / reference     Dice   IoU    precision  recall  HD95
=========================  =====  =====  =========  ======  ======
both empty                 1      1      1          1       0
prediction empty only      0      0      NaN        0       NaN
reference empty only       0      0      0          NaN     NaN
=========================  =====  =====  =========  ======  ======

NaN values are left out of averages (summaries count how many remain).

HD95 is the 95th-percentile symmetric Hausdorff distance in pixels: the larger
of the two directed 95th percentiles (``numpy.percentile``, linear) of the
distances from each boundary pixel of one mask to the nearest boundary pixel of
the other. Boundaries are the mask minus its erosion by a 4-connected cross
(``scipy.ndimage.binary_erosion``, pixels on the image edge are boundary).
Distances are exact Euclidean distances between boundary pixels: pair by pair
(a Numba kernel) when the boundaries are short, else read from
``scipy.ndimage.distance_transform_edt`` of the other boundary.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import ndimage as ndi

__all__ = ["overlap_metrics", "hd95", "hd95_with_boundary", "boundary"]

#: Planes per step in :func:`hd95` (bounds memory).
HD_CHUNK = 2048


def overlap_metrics(pred: np.ndarray, ref: np.ndarray) -> dict[str, np.ndarray]:
    """Dice, IoU, precision and recall per plane, with the empty-mask rule.

    Parameters
    ----------
    pred, ref : (..., H, W) bool ndarray
        Prediction and reference of the same shape.

    Returns
    -------
    dict of str to (...) float64 ndarray
        ``dice``, ``iou``, ``precision``, ``recall``, plus ``tp``, ``pred_pixels``
        and ``ref_pixels`` (int64).

    Examples
    --------
    >>> p = np.array([[1, 1, 0, 0]], bool)[None]
    >>> r = np.array([[0, 1, 1, 0]], bool)[None]
    >>> {k: float(v[0]) for k, v in overlap_metrics(p, r).items() if k in ("dice", "iou")}
    {'dice': 0.5, 'iou': 0.3333333333333333}
    """
    pred = np.asarray(pred, bool)
    ref = np.asarray(ref, bool)
    axes = (-2, -1)
    tp = np.count_nonzero(pred & ref, axis=axes).astype(np.int64)
    npred = np.count_nonzero(pred, axis=axes).astype(np.int64)
    nref = np.count_nonzero(ref, axis=axes).astype(np.int64)
    both_empty = (npred == 0) & (nref == 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        dice = np.where(both_empty, 1.0, 2.0 * tp / (npred + nref))
        iou = np.where(both_empty, 1.0, tp / (npred + nref - tp))
        precision = np.where(both_empty, 1.0, np.where(npred > 0, tp / npred, np.nan))
        recall = np.where(both_empty, 1.0, np.where(nref > 0, tp / nref, np.nan))
    return {"dice": dice, "iou": iou, "precision": precision, "recall": recall,
            "tp": tp, "pred_pixels": npred, "ref_pixels": nref}


def boundary(mask: np.ndarray) -> np.ndarray:
    """Boundary pixels of each plane of ``(..., H, W) bool``: the mask minus its erosion by a
    4-connected cross, with outside-the-image counted as background (so mask pixels on the
    image edge are boundary). Same result as ``scipy.ndimage.binary_erosion`` per plane."""
    inner = mask.copy()
    inner[..., 1:, :] &= mask[..., :-1, :]
    inner[..., :-1, :] &= mask[..., 1:, :]
    inner[..., :, 1:] &= mask[..., :, :-1]
    inner[..., :, :-1] &= mask[..., :, 1:]
    inner[..., 0, :] = False
    inner[..., -1, :] = False
    inner[..., :, 0] = False
    inner[..., :, -1] = False
    return mask & ~inner


def _plane_percentile(values: np.ndarray, plane: np.ndarray, n_planes: int, q: float) -> np.ndarray:
    """Linear-interpolated percentile ``q`` (0-100) of ``values`` grouped by ``plane``."""
    order = np.lexsort((values, plane))
    v = values[order]
    counts = np.bincount(plane, minlength=n_planes)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    out = np.full(n_planes, np.nan)
    ok = counts > 0
    pos = (q / 100.0) * (counts[ok] - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.ceil(pos).astype(np.int64)
    s = starts[ok]
    out[ok] = v[s + lo] + (pos - lo) * (v[s + hi] - v[s + lo])
    return out


def hd95(pred: np.ndarray, ref: np.ndarray, percentile: float = 95.0) -> np.ndarray:
    """95th-percentile Hausdorff distance per plane, in pixels (see the module docstring).

    Boundary-to-boundary distances are exact. For planes with few boundary
    pixels they are computed pair by pair (a Numba kernel, one pass over the
    pairs gives both directions); planes where that would cost more than a
    distance transform use ``scipy.ndimage.distance_transform_edt``.

    Parameters
    ----------
    pred, ref : (..., H, W) bool ndarray
    percentile : float
        95 for HD95; 100 gives the classic Hausdorff distance.

    Returns
    -------
    (...) float64 ndarray
        0 where both are empty, NaN where exactly one is empty.

    Examples
    --------
    >>> a = np.zeros((1, 8, 8), bool); a[0, 2, 2] = True
    >>> b = np.zeros((1, 8, 8), bool); b[0, 5, 6] = True
    >>> hd95(a, b)
    array([5.])
    """
    return hd95_with_boundary(pred, ref, percentile=percentile)


def hd95_with_boundary(
    pred: np.ndarray, ref: np.ndarray, pred_boundary: np.ndarray | None = None, percentile: float = 95.0
) -> np.ndarray:
    """:func:`hd95`, reusing ``pred_boundary = boundary(pred)`` when given (several references)."""
    pred = np.asarray(pred, bool)
    ref = np.asarray(ref, bool)
    lead, (h, w) = pred.shape[:-2], pred.shape[-2:]
    p = pred.reshape(-1, h, w)
    r = ref.reshape(-1, h, w)
    bpred = None if pred_boundary is None else pred_boundary.reshape(-1, h, w)
    has_p = p.any(axis=(1, 2))
    has_r = r.any(axis=(1, 2))
    out = np.where(~has_p & ~has_r, 0.0, np.nan)
    both = np.flatnonzero(has_p & has_r)
    for s in range(0, both.size, HD_CHUNK):
        sel = both[s : s + HD_CHUNK]
        bp = boundary(p[sel]) if bpred is None else bpred[sel]
        br = boundary(r[sel])
        ip, ir = np.nonzero(bp), np.nonzero(br)  # sorted by plane
        na = np.bincount(ip[0], minlength=sel.size)
        nb = np.bincount(ir[0], minlength=sel.size)
        d_a, d_b = _boundary_distances(ip, ir, na, nb, bp, br, h * w)
        h1 = _plane_percentile(d_a, ip[0], sel.size, percentile)
        h2 = _plane_percentile(d_b, ir[0], sel.size, percentile)
        out[sel] = np.maximum(h1, h2)
    return out.reshape(lead)


#: Use pairwise distances when ``n_a * n_b <= PAIR_FACTOR * H * W`` (else a distance transform).
PAIR_FACTOR = 64


def _boundary_distances(
    ip: tuple[np.ndarray, ...], ir: tuple[np.ndarray, ...], na: np.ndarray, nb: np.ndarray,
    bp: np.ndarray, br: np.ndarray, plane_pixels: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Distance of every boundary pixel of one mask to the other's boundary, plane by plane."""
    d_a = np.empty(ip[0].size)
    d_b = np.empty(ir[0].size)
    sa = np.concatenate(([0], np.cumsum(na)))
    sb = np.concatenate(([0], np.cumsum(nb)))
    pairwise = na.astype(np.int64) * nb <= PAIR_FACTOR * plane_pixels
    kernel = _pair_kernel()
    if kernel is None:
        pairwise[:] = False
    else:
        kernel(ip[1].astype(np.int32), ip[2].astype(np.int32), sa, ir[1].astype(np.int32),
               ir[2].astype(np.int32), sb, pairwise, d_a, d_b)
    for k in np.flatnonzero(~pairwise):
        d_to_r = ndi.distance_transform_edt(~br[k])
        d_to_p = ndi.distance_transform_edt(~bp[k])
        d_a[sa[k] : sa[k + 1]] = d_to_r[ip[1][sa[k] : sa[k + 1]], ip[2][sa[k] : sa[k + 1]]]
        d_b[sb[k] : sb[k + 1]] = d_to_p[ir[1][sb[k] : sb[k + 1]], ir[2][sb[k] : sb[k + 1]]]
    return d_a, d_b


@functools.cache
def _pair_kernel():
    """Numba kernel: nearest-boundary distances both ways, one pass over the pixel pairs of each plane."""
    try:
        import numba
    except ImportError:  # pragma: no cover - numba is a dependency; the EDT path is exact too
        return None

    @numba.njit(cache=True, nogil=True)
    def kernel(ya, xa, sa, yb, xb, sb, use, d_a, d_b):  # pragma: no cover - compiled
        for k in range(sa.size - 1):
            if not use[k]:
                continue
            for i in range(sa[k], sa[k + 1]):
                d_a[i] = np.inf
            for j in range(sb[k], sb[k + 1]):
                d_b[j] = np.inf
            for i in range(sa[k], sa[k + 1]):
                best = np.inf
                for j in range(sb[k], sb[k + 1]):
                    dy = ya[i] - yb[j]
                    dx = xa[i] - xb[j]
                    d2 = float(dy * dy + dx * dx)
                    if d2 < best:
                        best = d2
                    if d2 < d_b[j]:
                        d_b[j] = d2
                d_a[i] = best
            for i in range(sa[k], sa[k + 1]):
                d_a[i] = np.sqrt(d_a[i])
            for j in range(sb[k], sb[k + 1]):
                d_b[j] = np.sqrt(d_b[j])

    return kernel
