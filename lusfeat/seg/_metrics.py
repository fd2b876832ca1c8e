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
(``scipy.ndimage.binary_erosion``, pixels on the image edge are boundary), and
distances are exact Euclidean distance transforms
(``scipy.ndimage.distance_transform_edt``), computed for a whole stack of
planes in one call.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

__all__ = ["overlap_metrics", "hd95", "boundary"]

#: Planes per distance-transform call in :func:`hd95` (bounds memory).
HD_CHUNK = 512


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
    """Boundary pixels of each plane of ``(M, H, W) bool``: mask minus its 4-cross erosion."""
    structure = np.zeros((3, 3, 3), bool)
    structure[1] = ndi.generate_binary_structure(2, 1)
    return mask & ~ndi.binary_erosion(mask, structure=structure, border_value=0)


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
    pred = np.asarray(pred, bool)
    ref = np.asarray(ref, bool)
    lead, (h, w) = pred.shape[:-2], pred.shape[-2:]
    p = pred.reshape(-1, h, w)
    r = ref.reshape(-1, h, w)
    has_p = p.any(axis=(1, 2))
    has_r = r.any(axis=(1, 2))
    out = np.where(~has_p & ~has_r, 0.0, np.nan)
    both = np.flatnonzero(has_p & has_r)
    # planes are stacked along axis 0 with a spacing larger than any in-plane distance,
    # so every nearest boundary pixel lies in the same plane
    sampling = (float(h + w), 1.0, 1.0)
    for s in range(0, both.size, HD_CHUNK):
        sel = both[s : s + HD_CHUNK]
        bp, br = boundary(p[sel]), boundary(r[sel])
        d_to_r = ndi.distance_transform_edt(~br, sampling=sampling)
        d_to_p = ndi.distance_transform_edt(~bp, sampling=sampling)
        ip = np.nonzero(bp)
        ir = np.nonzero(br)
        h1 = _plane_percentile(d_to_r[ip], ip[0], sel.size, percentile)
        h2 = _plane_percentile(d_to_p[ir], ir[0], sel.size, percentile)
        out[sel] = np.maximum(h1, h2)
    return out.reshape(lead)
