"""Component properties from exact integer run statistics (NumPy or CuPy).

Shared by the ``cpu`` and ``cuda`` backends: given the integer statistics of
:func:`lusfeat.features._runs.plane_stats` (or the CUDA kernel's identical
output), compute the scikit-image ``regionprops`` values with the same
formulas scikit-image uses (inertia tensor of the central moments, its
eigenvalues, perimeter weights).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._arrays import array_module
from ..data._format import CLASS_NAMES
from ._dictionary import DICTIONARY
from ._layout import STAT

__all__ = ["component_columns", "finish_components"]

_SQRT2 = math.sqrt(2.0)


def component_columns(stats: Any, hull_perimeter: Any) -> dict[str, Any]:
    """Per-component property columns, one entry per component.

    Parameters
    ----------
    stats : (K, 17) int64
        Columns :data:`~lusfeat.features._layout.COMPONENT_STATS`.
    hull_perimeter : (K,) float64
        Convex hull polygon length in pixels.

    Returns
    -------
    dict of str to (K,) arrays
        ``plane``, ``label``, ``area``, bbox, centroid, perimeter, eccentricity,
        orientation, area_convex, solidity, axis lengths, perimeter_convex and
        ``sum_intensity`` (the intensity mean is sum / area), all in pixels.
    """
    xp = array_module(stats)
    s = {name: stats[:, i] for name, i in STAT._asdict().items()}
    n_int = s["area"]
    n = n_int.astype(xp.float64)
    # exact integer numerators of the central moments times n
    num_rr = n_int * s["sum_rr"] - s["sum_r"] * s["sum_r"]
    num_cc = n_int * s["sum_cc"] - s["sum_c"] * s["sum_c"]
    num_rc = n_int * s["sum_rc"] - s["sum_r"] * s["sum_c"]
    nn = n * n
    a = num_cc.astype(xp.float64) / nn  # tensor[0, 0]: column spread (scikit-image convention)
    c = num_rr.astype(xp.float64) / nn
    b = -(num_rc.astype(xp.float64) / nn)
    half = (a + c) / 2.0
    root = xp.sqrt(((a - c) / 2.0) ** 2 + b * b)
    l1 = xp.maximum(half + root, 0.0)
    l2 = xp.maximum(half - root, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ecc = xp.where(l1 == 0, 0.0, xp.sqrt(xp.maximum(1.0 - l2 / xp.where(l1 == 0, 1.0, l1), 0.0)))
    iso = num_cc == num_rr
    orient = xp.where(
        iso,
        xp.where(num_rc > 0, xp.pi / 4.0, -xp.pi / 4.0),
        0.5 * xp.arctan2(-2.0 * b, c - a),
    )
    perim = (s["n_p1"].astype(xp.float64) + s["n_p2"].astype(xp.float64) * _SQRT2
             + s["n_p3"].astype(xp.float64) * ((1.0 + _SQRT2) / 2.0))
    conv = s["area_convex"].astype(xp.float64)
    return {
        "plane": s["plane"],
        "label": s["label"],
        "area": n_int,
        "bbox_min_row": s["min_r"],
        "bbox_min_col": s["min_c"],
        "bbox_max_row": s["max_r"] + 1,
        "bbox_max_col": s["max_c"] + 1,
        "centroid_row": s["sum_r"].astype(xp.float64) / n,
        "centroid_col": s["sum_c"].astype(xp.float64) / n,
        "perimeter": perim,
        "eccentricity": ecc,
        "orientation": orient,
        "area_convex": s["area_convex"],
        "solidity": n / conv,
        "axis_major_length": 4.0 * xp.sqrt(l1),
        "axis_minor_length": 4.0 * xp.sqrt(l2),
        "perimeter_convex": hull_perimeter,
        "sum_intensity": s["sum_i"],
    }


def finish_components(cols: dict[str, Any], has_images: bool) -> dict[str, Any]:
    """The component table of the ``cpu`` and ``cuda`` backends from :func:`component_columns`.

    Parameters
    ----------
    cols : dict of (K,) arrays
        :func:`component_columns` output.
    has_images : bool
        Whether intensity sums are meaningful (else ``intensity_mean`` is NaN).

    Returns
    -------
    dict of str to (K,) arrays
        ``frame``, ``class_index``, ``label`` and every component feature of
        :data:`~lusfeat.features.DICTIONARY`, in dictionary order.
    """
    xp = array_module(cols["plane"])
    plane = cols["plane"]
    c = len(CLASS_NAMES)
    out = {"frame": plane // c, "class_index": plane % c, "label": cols["label"]}
    for k in DICTIONARY.names("component"):
        if k == "label":
            continue
        if k == "intensity_mean":
            if has_images:
                out[k] = cols["sum_intensity"].astype(xp.float64) / cols["area"].astype(xp.float64)
            else:
                out[k] = xp.full(plane.shape[0], xp.nan)
        else:
            out[k] = cols[k]
    return out
