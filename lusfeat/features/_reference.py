"""The ``reference`` backend: scikit-image, frame by frame, component by component.

This module *is* the specification of every number lusfeat reports. It is
written for clarity, not speed: ``skimage.measure.label`` (8-connectivity) and
``regionprops`` per plane, then the frame-level definitions of the feature
dictionary computed one frame at a time with plain NumPy.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial import ConvexHull

from ..data._format import CLASS_NAMES
from ._dictionary import LUS_PARAMETERS

__all__ = ["reference_components", "reference_frame"]


def _px(name: str, spacing: float) -> int:
    par = LUS_PARAMETERS[name]
    if math.isfinite(spacing) and spacing > 0:
        return max(1, int(np.rint(par["mm"] / spacing)))
    return int(par["px_default"])


def _hull_perimeter(region) -> float:
    """Length of the convex hull of the region's pixel-edge midpoints (px)."""
    coords = region.coords.astype(np.float64)
    offsets = np.array([[-0.5, 0], [0.5, 0], [0, -0.5], [0, 0.5]])
    pts = np.unique((coords[:, None, :] + offsets).reshape(-1, 2), axis=0)
    hull = ConvexHull(pts)
    v = pts[hull.vertices]
    d = np.diff(np.vstack([v, v[:1]]), axis=0)
    return float(np.sqrt((d**2).sum(axis=1)).sum())


def reference_components(planes: np.ndarray, image: np.ndarray | None) -> list[dict]:
    """Component rows of one frame.

    Parameters
    ----------
    planes : (C, H, W) bool
    image : (H, W) uint8 or None

    Returns
    -------
    list of dict
        One dict per component with ``class_index`` and the dictionary's
        component features (pixel units).
    """
    from skimage.measure import label, regionprops

    rows = []
    for ci in range(planes.shape[0]):
        lab = label(planes[ci], connectivity=2)
        for reg in regionprops(lab, intensity_image=image):
            r0, c0, r1, c1 = reg.bbox
            rows.append({
                "class_index": ci,
                "label": reg.label,
                "area": int(reg.area),
                "bbox_min_row": r0,
                "bbox_min_col": c0,
                "bbox_max_row": r1,
                "bbox_max_col": c1,
                "centroid_row": float(reg.centroid[0]),
                "centroid_col": float(reg.centroid[1]),
                "perimeter": float(reg.perimeter),
                "eccentricity": float(reg.eccentricity),
                "orientation": float(reg.orientation),
                "area_convex": int(reg.area_convex),
                "solidity": float(reg.solidity),
                "axis_major_length": float(reg.axis_major_length),
                "axis_minor_length": float(reg.axis_minor_length),
                "perimeter_convex": _hull_perimeter(reg),
                "intensity_mean": float(reg.intensity_mean) if image is not None else math.nan,
            })
    return rows


def _pleural_line(out: dict, P: np.ndarray, image: np.ndarray | None, spacing: float, s: float):
    """Pleural-line features into ``out``; returns the covered columns, has-pleura and r_p."""
    nan = math.nan
    w = P.shape[1]
    covered = [x for x in range(w) if P[:, x].any()]
    has_pl = len(covered) > 0
    r_p = int(np.nonzero(P.any(axis=1))[0].max()) + 1 if has_pl else 0
    out["pleural_line_coverage"] = len(covered) / w
    if has_pl:
        tops = np.array([np.nonzero(P[:, x])[0][0] for x in covered], dtype=float)
        thick = np.array([P[:, x].sum() for x in covered], dtype=float)
        out["pleural_line_depth"] = float(tops.mean()) * s
        out["pleural_line_thickness_mean"] = float(thick.mean()) * s
        out["pleural_line_thickness_sd"] = float(thick.std()) * s
    else:
        out["pleural_line_depth"] = nan
        out["pleural_line_thickness_mean"] = nan
        out["pleural_line_thickness_sd"] = nan
    breaks = 0
    min_gap = _px("break_length", spacing)
    for a, b in zip(covered[:-1], covered[1:], strict=True):
        if b - a - 1 >= min_gap:
            breaks += 1
    out["pleural_line_breaks"] = float(breaks)
    if len(covered) >= 3:
        xs = np.array(covered, dtype=float)
        coef = np.polyfit(xs, tops, 2)
        out["pleural_line_roughness"] = float(np.std(tops - np.polyval(coef, xs))) * s
    else:
        out["pleural_line_roughness"] = nan
    if image is not None and has_pl:
        out["pleural_line_intensity"] = float(image[P].astype(np.int64).sum()) / float(P.sum())
    else:
        out["pleural_line_intensity"] = nan
    return covered, has_pl, r_p


def _a_line(out: dict, P: np.ndarray, a_comps: list[dict], has_pl: bool):
    """A-line spacing ratio into ``out``."""
    nan = math.nan
    if a_comps and has_pl:
        d_p = float(np.nonzero(P)[0].sum()) / float(P.sum())
        d_max = max(c["centroid_row"] for c in a_comps)
        out["a_line_spacing_ratio"] = (
            ((d_max - d_p) / len(a_comps)) / d_p if d_p != 0 else nan)
    else:
        out["a_line_spacing_ratio"] = nan


def _b_line(out: dict, B: np.ndarray, b_comps: list[dict], image: np.ndarray | None, spacing: float, s: float,
            covered: list[int], has_pl: bool, r_p: int):
    """B-line features into ``out``; returns the pleural fraction (for the LUS score)."""
    nan = math.nan
    h, w = B.shape
    band = _px("band", spacing)
    out["b_line_count_band"] = float(sum(1 for c in b_comps if c["bbox_min_row"] < r_p + band))
    r_d = min(r_p + _px("reference_depth", spacing), h - 1)
    pleural_cols = np.array(covered) if has_pl else np.arange(w)
    out["b_line_width_ref"] = float(B[r_d].sum()) * s
    frac = float(B[r_d, pleural_cols].sum()) / len(pleural_cols)
    out["b_line_pleural_fraction"] = frac
    out["b_line_confluent"] = 10.0 * frac
    n_below = h - r_p
    below = B[r_p:]
    out["b_line_blas"] = (
        float(below[:, pleural_cols].sum()) / (len(pleural_cols) * n_below) if n_below > 0 else 0.0)
    out["b_line_intensity_ratio"] = nan
    if image is not None and below.any():
        k = _px("neighbour_width", spacing)
        bcols = {x for x in range(w) if below[:, x].any()}
        ncols = [x for x in range(w) if x not in bcols
                 and any(abs(x - y) <= k for y in bcols)]
        if ncols:
            img_below = image[r_p:].astype(np.int64)
            mean_b = float(img_below[below].sum()) / float(below.sum())
            nsum = float(img_below[:, ncols].sum())
            if nsum > 0:
                out["b_line_intensity_ratio"] = mean_b / (nsum / (len(ncols) * n_below))
    return frac


def _consolidation(out: dict, c_comps: list[dict], r_p: int, s: float):
    """Consolidation features into ``out``."""
    nan = math.nan
    out["consolidation_area_max"] = float(max((c["area"] for c in c_comps), default=0)) * s * s
    if c_comps:
        depths = [max(c["bbox_max_row"] - r_p, 0) for c in c_comps]
        out["consolidation_depth_max"] = float(max(depths)) * s
        out["consolidation_depth_mean"] = float(np.mean(depths)) * s
        out["consolidation_irregularity"] = float(
            np.mean([c["perimeter"] / c["perimeter_convex"] for c in c_comps]))
        out["consolidation_solidity"] = float(np.mean([c["solidity"] for c in c_comps]))
    else:
        for key in ("depth_max", "depth_mean", "irregularity", "solidity"):
            out[f"consolidation_{key}"] = nan


def reference_frame(planes: np.ndarray, image: np.ndarray | None, spacing: float,
                    comps: list[dict]) -> dict[str, float]:
    """Frame-level features of one frame, straight from the definitions.

    Parameters
    ----------
    planes : (5, H, W) bool
    image : (H, W) uint8 or None
    spacing : float
        mm per pixel (NaN when unknown: results in pixels).
    comps : list of dict
        :func:`reference_components` of the same frame.
    """
    _, h, w = planes.shape
    s = spacing if (math.isfinite(spacing) and spacing > 0) else 1.0
    out: dict[str, float] = {}
    by_cls = {ci: [c for c in comps if c["class_index"] == ci] for ci in range(5)}
    for ci, name in enumerate(CLASS_NAMES):
        out[f"{name}_count"] = float(len(by_cls[ci]))
        out[f"{name}_area"] = float(planes[ci].sum()) * s * s

    covered, has_pl, r_p = _pleural_line(out, planes[0], image, spacing, s)
    _a_line(out, planes[0], by_cls[1], has_pl)
    frac = _b_line(out, planes[2], by_cls[2], image, spacing, s, covered, has_pl, r_p)
    c_comps = by_cls[3]
    _consolidation(out, c_comps, r_p, s)
    out["effusion_thickness_max"] = float(planes[4].sum(axis=0).max()) * s
    if c_comps:
        score = 3.0
    elif frac >= 0.3:
        score = 2.0
    elif out["b_line_count_band"] >= 3:
        score = 1.0
    else:
        score = 0.0
    out["lus_score"] = score
    return out
