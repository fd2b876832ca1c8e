"""Frame-level LUS features, batched over frames (NumPy or CuPy).

Two stages:

1. :func:`pixel_stats` reduces the masks and images of every frame to a few
   per-frame numbers (pleural columns, the first row below the pleura
   ``r_p``, B-line occupancy counts, intensity sums...). This is the
   whole-array version (NumPy or CuPy); :func:`._profiles.pixel_stats_numba`
   computes the same numbers in one pass per frame for the ``cpu`` backend.
2. :func:`finish` turns them, with the component table, into the features of
   the dictionary (O(frames + components) work).

The definitions are those of :mod:`._reference`, which computes the same
numbers frame by frame; parity tests hold the versions together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._arrays import array_module
from ..data._format import CLASS_NAMES
from ._dictionary import LUS_PARAMETERS

__all__ = ["finish", "frame_features", "pixel_stats", "pixels_for", "scale_for"]

N_CLASSES = len(CLASS_NAMES)


def scale_for(spacing: Any) -> Any:
    """mm per pixel where the spacing is known (finite, > 0), else 1 (pixel units)."""
    xp = array_module(spacing)
    known = xp.isfinite(spacing) & (spacing > 0)
    return xp.where(known, spacing, 1.0)


def pixels_for(name: str, spacing: Any) -> Any:
    """Length parameter ``name`` of :data:`LUS_PARAMETERS` in pixels, per frame (int64)."""
    xp = array_module(spacing)
    par = LUS_PARAMETERS[name]
    known = xp.isfinite(spacing) & (spacing > 0)
    safe = xp.where(known, spacing, 1.0)
    px = xp.maximum(1, xp.rint(par["mm"] / safe)).astype(xp.int64)
    return xp.where(known, px, int(par["px_default"]))


def _segment(xp: Any, op: str, values: Any, seg: Any, n: int, fill: float) -> Any:
    out = xp.full(n, fill, dtype=xp.float64)
    if values.size == 0:
        return out
    if xp is np:
        getattr(np, op).at(out, seg, values)
    else:  # pragma: no cover - GPU only
        import cupyx

        {"maximum": cupyx.scatter_max, "add": cupyx.scatter_add}[op](out, seg, values)
    return out


def _bincount(xp: Any, x: Any, n: int) -> Any:
    """Counts of the values ``0 .. n-1`` in ``x`` as float64 (no host sync, empty-safe)."""
    if xp is np:
        return np.bincount(x, minlength=n)[:n].astype(np.float64)
    import cupyx  # pragma: no cover - GPU only

    out = xp.zeros(n, dtype=xp.float64)  # pragma: no cover
    if x.size:  # pragma: no cover
        cupyx.scatter_add(out, x, 1.0)
    return out  # pragma: no cover


def pixel_stats(masks: Any, images: Any | None, spacing: Any) -> dict[str, Any]:
    """Per-frame raw statistics with whole-batch array operations.

    Parameters
    ----------
    masks : (N, 5, H, W) bool
    images : (N, H, W) uint8 or None
    spacing : (N,) float64

    Returns
    -------
    dict of str to (N,) float64
        ``pix`` ((N, 5) pixel counts) and every field of
        :data:`~lusfeat.features._layout.FRAME_STATS`.
    """
    xp = array_module(masks)
    n, _, h, w = masks.shape
    f64 = xp.float64
    raw: dict[str, Any] = {"pix": masks.sum(axis=(2, 3), dtype=xp.int64).astype(f64)}
    P = masks[:, 0]
    pcol, top, r_p = _pleural_profile(xp, P, raw)
    has_pl = raw["ncov"] > 0
    raw["breaks"] = _pleural_breaks(xp, pcol, has_pl, spacing)
    raw["rough"] = _pleural_roughness(xp, pcol, top, raw["ncov"])
    rows = xp.arange(h, dtype=f64)
    raw["p_rowsum"] = (P.sum(axis=2, dtype=xp.int64).astype(f64) * rows[None, :]).sum(axis=1)
    bb, below = _b_line_stats(xp, masks[:, 2], pcol, has_pl, r_p, spacing, raw)
    if images is not None:
        _intensity_stats(xp, images, P, bb, below, r_p, spacing, raw)
    else:
        for key_ in ("p_isum", "b_isum", "n_isum", "n_count"):
            raw[key_] = xp.full(n, xp.nan)
    raw["e_thick"] = masks[:, 4].sum(axis=1, dtype=xp.int64).max(axis=1).astype(f64)
    return raw


def _pleural_profile(xp: Any, P: Any, raw: dict[str, Any]) -> tuple[Any, Any, Any]:
    """Pleural coverage, lowest row, upper edge and thickness per frame (``ncov, r_p, sum_top,
    thick_mean, thick_sd`` added to ``raw``).

    Returns
    -------
    pcol : (N, W) bool
        Columns holding pleural line.
    top : (N, W) float64
        First pleural row of each column.
    r_p : (N,) int64
        One below the lowest pleural row (0 without pleural line).
    """
    f64 = xp.float64
    h = P.shape[1]
    pcol = P.any(axis=1)  # (N, W)
    ncov = pcol.sum(axis=1).astype(f64)
    has_pl = ncov > 0
    safe_cov = xp.where(has_pl, ncov, 1.0)
    prow = P.any(axis=2)  # (N, H)
    r_p = xp.where(has_pl, h - xp.argmax(prow[:, ::-1].astype(xp.uint8), axis=1), 0).astype(xp.int64)
    top = xp.argmax(P.astype(xp.uint8), axis=1).astype(f64)  # (N, W) first pleural row per column
    colcnt = P.sum(axis=1, dtype=xp.int64).astype(f64)
    raw["ncov"] = ncov
    raw["r_p"] = r_p.astype(f64)
    raw["sum_top"] = (top * pcol).sum(axis=1)
    tmean = (colcnt * pcol).sum(axis=1) / safe_cov
    raw["thick_mean"] = tmean
    raw["thick_sd"] = xp.sqrt((((colcnt - tmean[:, None]) ** 2) * pcol).sum(axis=1) / safe_cov)
    return pcol, top, r_p


def _pleural_breaks(xp: Any, pcol: Any, has_pl: Any, spacing: Any) -> Any:
    """Gaps of at least the break length between the first and last pleural column, per frame."""
    n, w = pcol.shape
    cols = xp.arange(w)
    first = xp.argmax(pcol.astype(xp.uint8), axis=1)
    last = w - 1 - xp.argmax(pcol[:, ::-1].astype(xp.uint8), axis=1)
    z = (~pcol) & (cols[None, :] > first[:, None]) & (cols[None, :] < last[:, None]) & has_pl[:, None]
    zstart = z & ~xp.concatenate([xp.zeros((n, 1), dtype=bool), z[:, :-1]], axis=1)
    run_id = xp.cumsum(zstart, axis=1) * z
    key = (xp.arange(n)[:, None] * (w + 1) + run_id)[z]
    lengths = _bincount(xp, key, n * (w + 1)).reshape(n, w + 1)[:, 1:]
    brk = pixels_for("break_length", spacing)
    return (lengths >= brk[:, None]).sum(axis=1).astype(xp.float64)


def _pleural_roughness(xp: Any, pcol: Any, top: Any, ncov: Any) -> Any:
    """RMS residual of the pleural upper edge from a weighted quadratic (modified Gram-Schmidt);
    NaN below 3 columns."""
    f64 = xp.float64
    safe_cov = xp.where(ncov > 0, ncov, 1.0)
    wt = pcol.astype(f64)
    x = xp.arange(pcol.shape[1]).astype(f64)[None, :]
    xm = (wt * x).sum(axis=1, keepdims=True) / safe_cov[:, None]
    q1 = (x - xm) * wt
    q1n = (q1 * q1).sum(axis=1, keepdims=True)
    q1n = xp.where(q1n == 0, 1.0, q1n)
    u2 = q1 * q1
    q2 = (u2 - (u2 * wt).sum(axis=1, keepdims=True) / safe_cov[:, None]) * wt
    q2 = q2 - ((q2 * q1).sum(axis=1, keepdims=True) / q1n) * q1
    q2n = (q2 * q2).sum(axis=1, keepdims=True)
    q2n = xp.where(q2n == 0, 1.0, q2n)
    y = (top - (top * wt).sum(axis=1, keepdims=True) / safe_cov[:, None]) * wt
    y = y - ((q1 * y).sum(axis=1, keepdims=True) / q1n) * q1
    y = y - ((q2 * y).sum(axis=1, keepdims=True) / q2n) * q2
    return xp.where(ncov >= 3, xp.sqrt((y * y).sum(axis=1) / safe_cov), xp.nan)


def _b_line_stats(xp: Any, B: Any, pcol: Any, has_pl: Any, r_p: Any, spacing: Any,
                  raw: dict[str, Any]) -> tuple[Any, Any]:
    """B-line pixels at the reference depth and below the pleura (``b_ref, b_ref_pc, wp, b_below_pc,
    b_below`` added to ``raw``).

    Returns
    -------
    bb : (N, H, W) bool
        B-line pixels below the pleural line.
    below : (N, H) bool
        Rows below the pleural line.
    """
    f64 = xp.float64
    n, h, _ = B.shape
    r_d = xp.minimum(r_p + pixels_for("reference_depth", spacing), h - 1)
    brow = B[xp.arange(n), r_d]  # (N, W)
    pc = xp.where(has_pl[:, None], pcol, True)
    raw["b_ref"] = brow.sum(axis=1).astype(f64)
    raw["b_ref_pc"] = (brow & pc).sum(axis=1).astype(f64)
    raw["wp"] = pc.sum(axis=1).astype(f64)
    rows = xp.arange(h, dtype=f64)
    below = rows[None, :] >= r_p[:, None].astype(f64)  # (N, H)
    bb = B & below[:, :, None]
    raw["b_below_pc"] = (bb & pc[:, None, :]).sum(axis=(1, 2)).astype(f64)
    raw["b_below"] = bb.sum(axis=(1, 2)).astype(f64)
    return bb, below


def _intensity_stats(xp: Any, images: Any, P: Any, bb: Any, below: Any, r_p: Any, spacing: Any,
                     raw: dict[str, Any]) -> None:
    """Gray-level sums of the pleural line, the B-lines and the B-lines' neighbour columns
    (``p_isum, n_count, b_isum, n_isum`` added to ``raw``)."""
    f64 = xp.float64
    n, h, w = images.shape
    cols = xp.arange(w)
    img = images.astype(xp.int64)
    raw["p_isum"] = (img * P).sum(axis=(1, 2)).astype(f64)
    bcol = bb.any(axis=1)  # (N, W)
    k = pixels_for("neighbour_width", spacing)
    cs = xp.concatenate([xp.zeros((n, 1), dtype=xp.int64), xp.cumsum(bcol, axis=1)], axis=1)
    hi = xp.minimum(cols[None, :] + k[:, None] + 1, w)
    lo = xp.maximum(cols[None, :] - k[:, None], 0)
    near = (xp.take_along_axis(cs, hi, axis=1) - xp.take_along_axis(cs, lo, axis=1)) > 0
    ncol = near & ~bcol
    raw["n_count"] = ncol.sum(axis=1).astype(f64) * (h - r_p).astype(f64)
    raw["b_isum"] = (img * bb).sum(axis=(1, 2)).astype(f64)
    raw["n_isum"] = (img * (below[:, :, None] & ncol[:, None, :])).sum(axis=(1, 2)).astype(f64)

def finish(raw: dict[str, Any], comps: dict[str, Any], spacing: Any, h: int, w: int,
           has_images: bool) -> dict[str, Any]:
    """Frame features from the raw per-frame statistics and the component table.

    Parameters
    ----------
    raw : dict
        :func:`pixel_stats` (or the numba twin) output.
    comps : dict of (K,) arrays
        :func:`._props.component_columns` output (``plane = frame * 5 + class``).
    spacing : (N,) float64
    h, w : int
        Frame size.
    has_images : bool

    Returns
    -------
    dict of str to (N,) float64
    """
    xp = array_module(raw["ncov"])
    n = raw["ncov"].shape[0]
    scale = scale_for(spacing)
    area_u = scale * scale
    out: dict[str, Any] = {}
    plane = comps["plane"]
    frame_of = plane // N_CLASSES
    cls_of = plane % N_CLASSES
    counts = _bincount(xp, plane, n * N_CLASSES).reshape(n, N_CLASSES)
    pix = raw["pix"]
    for ci, name in enumerate(CLASS_NAMES):
        out[f"{name}_count"] = counts[:, ci]
        out[f"{name}_area"] = pix[:, ci] * area_u
    ctx = _FrameContext(xp=xp, n=n, h=h, w=w, scale=scale, spacing=spacing, frame_of=frame_of, cls_of=cls_of,
                        counts=counts, has_images=has_images)
    _pleural_line_features(raw, ctx, out)
    _a_line_features(raw, comps, ctx, out)
    frac = _b_line_features(raw, comps, ctx, out)
    _consolidation_features(raw, comps, ctx, out)
    k_c = counts[:, 3]
    out["lus_score"] = xp.where(
        k_c > 0, 3.0,
        xp.where(frac >= 0.3, 2.0, xp.where(out["b_line_count_band"] >= 3, 1.0, 0.0)))
    return out


@dataclass(frozen=True)
class _FrameContext:
    """What every class's frame features of :func:`finish` share: batch, units and component index."""

    xp: Any
    n: int
    h: int
    w: int
    #: mm per pixel (1 where the spacing is unknown).
    scale: Any
    spacing: Any
    #: Frame and class of each component.
    frame_of: Any
    cls_of: Any
    #: (N, 5) components per frame and class.
    counts: Any
    has_images: bool


def _pleural_line_features(raw: dict[str, Any], ctx: _FrameContext, out: dict[str, Any]) -> None:
    """Pleural-line coverage, depth, breaks, thickness, roughness and intensity (added to ``out``)."""
    xp, nan, scale = ctx.xp, ctx.xp.nan, ctx.scale
    ncov = raw["ncov"]
    has_pl = ncov > 0
    safe_cov = xp.where(has_pl, ncov, 1.0)
    out["pleural_line_coverage"] = ncov / ctx.w
    out["pleural_line_depth"] = xp.where(has_pl, raw["sum_top"] / safe_cov * scale, nan)
    out["pleural_line_breaks"] = raw["breaks"]
    out["pleural_line_thickness_mean"] = xp.where(has_pl, raw["thick_mean"] * scale, nan)
    out["pleural_line_thickness_sd"] = xp.where(has_pl, raw["thick_sd"] * scale, nan)
    out["pleural_line_roughness"] = xp.where(ncov >= 3, raw["rough"] * scale, nan)
    safe_p = xp.where(has_pl, raw["pix"][:, 0], 1.0)
    if ctx.has_images:
        out["pleural_line_intensity"] = xp.where(has_pl, raw["p_isum"] / safe_p, nan)
    else:
        out["pleural_line_intensity"] = xp.full(ctx.n, nan)


def _a_line_features(raw: dict[str, Any], comps: dict[str, Any], ctx: _FrameContext, out: dict[str, Any]) -> None:
    """A-line spacing ratio: deepest A-line's depth over the pleural depth, per A-line (added to ``out``)."""
    xp, n = ctx.xp, ctx.n
    has_pl = raw["ncov"] > 0
    safe_p = xp.where(has_pl, raw["pix"][:, 0], 1.0)
    d_p = xp.where(has_pl, raw["p_rowsum"] / safe_p, xp.nan)
    is_a = ctx.cls_of == 1
    a_max = _segment(xp, "maximum", comps["centroid_row"][is_a], ctx.frame_of[is_a], n, -xp.inf)
    k_a = ctx.counts[:, 1]
    ok = (k_a > 0) & has_pl & (d_p != 0)
    ratio = ((a_max - d_p) / xp.where(ok, k_a, 1.0)) / xp.where(ok, d_p, 1.0)
    out["a_line_spacing_ratio"] = xp.where(ok, ratio, xp.nan)


def _b_line_features(raw: dict[str, Any], comps: dict[str, Any], ctx: _FrameContext,
                     out: dict[str, Any]) -> Any:
    """B-line count in the band, width and pleural fraction at the reference depth, B-line artefact
    score and intensity ratio (added to ``out``).

    Returns
    -------
    (N,) array
        The pleural fraction (the LUS score reads it).
    """
    xp, n, scale = ctx.xp, ctx.n, ctx.scale
    r_p = raw["r_p"].astype(xp.int64)
    band = pixels_for("band", ctx.spacing)
    is_b = ctx.cls_of == 2
    in_band = is_b & (comps["bbox_min_row"] < (r_p + band)[ctx.frame_of])
    out["b_line_count_band"] = _bincount(xp, ctx.frame_of[in_band], n)
    out["b_line_width_ref"] = raw["b_ref"] * scale
    frac = raw["b_ref_pc"] / raw["wp"]
    out["b_line_pleural_fraction"] = frac
    out["b_line_confluent"] = 10.0 * frac
    nbelow = (ctx.h - r_p).astype(xp.float64)
    out["b_line_blas"] = xp.where(
        nbelow > 0, raw["b_below_pc"] / (raw["wp"] * xp.where(nbelow > 0, nbelow, 1.0)), 0.0)
    if ctx.has_images:
        okb = (raw["b_below"] > 0) & (raw["n_count"] > 0) & (raw["n_isum"] > 0)
        mean_b = raw["b_isum"] / xp.where(okb, raw["b_below"], 1.0)
        mean_n = raw["n_isum"] / xp.where(okb, raw["n_count"], 1.0)
        out["b_line_intensity_ratio"] = xp.where(okb, mean_b / xp.where(okb, mean_n, 1.0), xp.nan)
    else:
        out["b_line_intensity_ratio"] = xp.full(n, xp.nan)
    return frac


def _consolidation_features(raw: dict[str, Any], comps: dict[str, Any], ctx: _FrameContext,
                            out: dict[str, Any]) -> None:
    """Largest consolidation, its depths below the pleura, irregularity, solidity; effusion thickness."""
    xp, n, scale, nan = ctx.xp, ctx.n, ctx.scale, ctx.xp.nan
    f64 = xp.float64
    r_p = raw["r_p"].astype(xp.int64)
    is_c = ctx.cls_of == 3
    fc = ctx.frame_of[is_c]
    k_c = ctx.counts[:, 3]
    has_c = k_c > 0
    safe_c = xp.where(has_c, k_c, 1.0)
    amax = _segment(xp, "maximum", comps["area"][is_c].astype(f64), fc, n, 0.0)
    area_u = scale * scale
    out["consolidation_area_max"] = amax * area_u
    depth = xp.maximum(comps["bbox_max_row"][is_c] - r_p[fc], 0).astype(f64)
    out["consolidation_depth_max"] = xp.where(
        has_c, _segment(xp, "maximum", depth, fc, n, -xp.inf) * scale, nan)
    out["consolidation_depth_mean"] = xp.where(
        has_c, _segment(xp, "add", depth, fc, n, 0.0) / safe_c * scale, nan)
    irr = comps["perimeter"][is_c] / comps["perimeter_convex"][is_c]
    out["consolidation_irregularity"] = xp.where(
        has_c, _segment(xp, "add", irr, fc, n, 0.0) / safe_c, nan)
    out["consolidation_solidity"] = xp.where(
        has_c, _segment(xp, "add", comps["solidity"][is_c], fc, n, 0.0) / safe_c, nan)
    out["effusion_thickness_max"] = raw["e_thick"] * scale

def frame_features(masks: Any, images: Any | None, spacing: Any, comps: dict[str, Any]) -> dict[str, Any]:
    """All frame-level features with whole-array operations (NumPy or CuPy).

    Parameters
    ----------
    masks : (N, 5, H, W) bool
    images : (N, H, W) uint8 or None
    spacing : (N,) float64
        mm per pixel, NaN when unknown.
    comps : dict of (K,) arrays
        :func:`._props.component_columns` output.

    Returns
    -------
    dict of str to (N,) float64
    """
    _, _, h, w = masks.shape
    raw = pixel_stats(masks, images, spacing)
    return finish(raw, comps, spacing, h, w, images is not None)
