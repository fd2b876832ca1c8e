"""B-line masks held to the consensus definition of a B-line.

The international consensus on lung ultrasound (Volpicelli et al. 2012,
Intensive Care Med 38:577) defines a B-line as a discrete, laser-like,
vertical hyperechoic reverberation artefact that *arises from the pleural
line*, *extends to the bottom of the screen without fading* and *moves with
lung sliding*; B-lines erase A-lines. A segmentation network trained on
simulated frames paints other bright regions below the pleura as B-line as
well, notably the diffuse haze of a normal intercostal window between two rib
shadows, which starts below the pleura, fades with depth and leaves the A-lines
visible. :func:`b_line_criteria` measures each predicted B-line component
against the definition and :func:`apply_b_line_criteria` keeps the components
that meet it; :func:`postprocess_masks` applies it to a whole mask set.

All lengths are fractions of the *lung depth* of the component's columns: the
distance from the pleural line to the bottom of the scan region, so the
criteria do not depend on the pixel spacing (often unknown for exported
frames), the probe or the imaging depth.

Criteria (:class:`BLineCriteria`; a component is kept when it meets all):

``origin``
    Its top lies within ``origin`` of the pleural line ("arising from the
    pleural line"), measured in the component's columns.
``reach``
    It extends to at least ``reach`` of the lung depth ("to the bottom of the
    screen"; the deepest part of a fan is often below the noise floor, hence not
    1.0).
``fading``
    Without fading: the gray level inside the component in the deep half of its
    extent, divided by the gray level inside it just below the pleura, is at least
    ``fading`` times the same ratio for the whole scan region (the frame's own
    depth attenuation and time-gain compensation cancel).
``a_line``
    Erasing A-lines: at most ``a_line`` of the component's columns carry a
    predicted A-line pixel within the component's extent.

The pleural row of a column is the lowest predicted pleural pixel in it, linearly
interpolated across columns without pleural line (rib shadows) and held constant
beyond its ends. A frame without any predicted pleural line keeps its B-line mask
unchanged: the criteria cannot be checked there.
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._errors import InputError

__all__ = ["BLineCriteria", "b_line_criteria", "apply_b_line_criteria", "postprocess_masks", "scan_bottom"]

logger = logging.getLogger(__name__)

PLEURA, A_LINE, B_LINE = 0, 1, 2


@dataclass(frozen=True)
class BLineCriteria:
    """Thresholds of the consensus B-line definition (see the module docstring).

    Attributes
    ----------
    origin : float
        Largest gap between the pleural line and the component's top, as a fraction
        of the lung depth.
    reach : float
        Smallest depth the component must reach below the pleural line, as a
        fraction of the lung depth.
    fading : float
        Smallest deep/shallow gray-level ratio inside the component relative to the
        same ratio of the scan region (1: fades no more than the frame does).
    a_line : float
        Largest share of the component's columns crossed by a predicted A-line.
    """

    origin: float = 0.10
    reach: float = 0.80
    fading: float = 1.0
    a_line: float = 0.25

    def __post_init__(self) -> None:
        for name in ("origin", "reach", "a_line"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise InputError(f"BLineCriteria.{name} must be in [0, 1], got {v}")
        if not self.fading >= 0.0:
            raise InputError(f"BLineCriteria.fading must be >= 0, got {self.fading}")


def scan_bottom(region: np.ndarray) -> np.ndarray:
    """Last row of the scan region in every column.

    Parameters
    ----------
    region : (H, W) bool
        Scan region mask.

    Returns
    -------
    (W,) int64
        The deepest row inside the region per column, ``-1`` where the column is
        outside it.
    """
    region = np.asarray(region, dtype=bool)
    h = region.shape[0]
    any_ = region.any(axis=0)
    last = h - 1 - np.argmax(region[::-1], axis=0)
    return np.where(any_, last, -1).astype(np.int64)


def pleural_rows(pleura: np.ndarray) -> np.ndarray | None:
    """Pleural row of every column: the lowest pleural pixel, interpolated across gaps.

    Parameters
    ----------
    pleura : (H, W) bool
        Pleural line mask.

    Returns
    -------
    (W,) float64 or None
        ``None`` when the mask is empty.
    """
    pleura = np.asarray(pleura, dtype=bool)
    h, w = pleura.shape
    cols = np.flatnonzero(pleura.any(axis=0))
    if cols.size == 0:
        return None
    low = (h - 1 - np.argmax(pleura[::-1, cols], axis=0)).astype(np.float64)
    return np.interp(np.arange(w, dtype=np.float64), cols.astype(np.float64), low)


def _frame_region(image: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray:
    if image is None:
        return np.ones(shape, dtype=bool)
    from ..data.ingest import detect_scan_region

    return detect_scan_region(np.asarray(image, dtype=np.uint8)).mask


def _depth_ratio(image: np.ndarray, sel: np.ndarray, rel: np.ndarray, lo: tuple[float, float],
                 hi: tuple[float, float]) -> float:
    """Mean gray level of ``sel`` pixels with relative depth in ``hi`` over those in ``lo``."""
    a = sel & (rel >= lo[0]) & (rel < lo[1])
    b = sel & (rel >= hi[0]) & (rel <= hi[1])
    if not a.any() or not b.any():
        return float("nan")
    ma = float(image[a].mean())
    mb = float(image[b].mean())
    return mb / ma if ma > 0 else float("nan")


def b_line_criteria(
    masks: np.ndarray,
    image: np.ndarray | None = None,
    region: np.ndarray | None = None,
) -> pd.DataFrame:
    """Measure every predicted B-line component of one frame against the consensus definition.

    Parameters
    ----------
    masks : (C, H, W) bool
        Predicted masks in :data:`lusfeat.data.CLASS_NAMES` order.
    image : (H, W) uint8, optional
        The frame; without it ``fading`` is NaN (not checked).
    region : (H, W) bool, optional
        Scan region; by default detected from ``image``
        (:func:`lusfeat.data.ingest.detect_scan_region`), else the whole frame.

    Returns
    -------
    DataFrame
        One row per 8-connected B-line component: ``label`` (1-based, as
        :func:`scipy.ndimage.label` numbers them), ``row0``, ``col0`` (top left of
        its bounding box), ``area``, ``columns``,
        ``origin`` (gap to the pleural line), ``reach`` (deepest point), both as
        fractions of the lung depth, ``fading`` (relative deep/shallow gray-level
        ratio), ``a_line`` (share of columns crossed by an A-line). All criteria are
        NaN in a frame without pleural line.
    """
    from scipy import ndimage

    masks = np.asarray(masks, dtype=bool)
    if masks.ndim != 3 or masks.shape[0] <= B_LINE:
        raise InputError(f"masks must be (C, H, W) with C > {B_LINE}, got {masks.shape}")
    _, h, w = masks.shape
    lab, n = ndimage.label(masks[B_LINE], structure=np.ones((3, 3), dtype=bool))
    cols_out = ["label", "row0", "col0", "area", "columns", "origin", "reach", "fading", "a_line"]
    if n == 0:
        return pd.DataFrame({c: pd.Series(dtype=float) for c in cols_out})
    if region is None:
        region = _frame_region(image, (h, w))
    region = np.asarray(region, dtype=bool)
    prow = pleural_rows(masks[PLEURA])
    bottom = scan_bottom(region).astype(np.float64)
    rows = np.arange(h, dtype=np.float64)[:, None]
    if prow is not None:
        depth = np.maximum(bottom - prow, 1.0)  # (W,)
        rel = (rows - prow[None, :]) / depth[None, :]  # (H, W) relative depth below the pleura
        img = None if image is None else np.asarray(image, dtype=np.float64)
        lung = region & (rel >= 0)
    objs = ndimage.find_objects(lab)
    recs = []
    for k, sl in enumerate(objs, start=1):
        comp = np.zeros((h, w), dtype=bool)
        comp[sl] = lab[sl] == k
        ccols = np.flatnonzero(comp.any(axis=0))
        rec: dict[str, Any] = {"label": k, "row0": int(sl[0].start), "col0": int(sl[1].start),
                               "area": int(comp.sum()), "columns": int(ccols.size)}
        if prow is None:
            rec.update(origin=np.nan, reach=np.nan, fading=np.nan, a_line=np.nan)
            recs.append(rec)
            continue
        sub = comp[:, ccols]
        top = np.argmax(sub, axis=0).astype(np.float64)
        low = (h - 1 - np.argmax(sub[::-1], axis=0)).astype(np.float64)
        d = depth[ccols]
        rec["origin"] = float(np.clip(np.min((top - prow[ccols] - 1.0) / d), 0.0, None))
        rec["reach"] = float(np.clip(np.max((low - prow[ccols]) / d), 0.0, None))
        if img is None:
            rec["fading"] = np.nan
        else:
            span = comp & (rel >= 0)
            r_c = rel[span]
            if r_c.size == 0:
                rec["fading"] = np.nan
            else:
                top_rel, bot_rel = float(r_c.min()), float(r_c.max())
                ext = bot_rel - top_rel
                lo = (top_rel, top_rel + 0.25 * ext)
                hi = (top_rel + 0.5 * ext, bot_rel)
                own = _depth_ratio(img, span, rel, lo, hi)
                ref = _depth_ratio(img, lung, rel, lo, hi)
                rec["fading"] = float(own / ref) if np.isfinite(own) and np.isfinite(ref) and ref > 0 else np.nan
        a_sub = masks[A_LINE][:, ccols]
        rr = np.arange(h)[:, None]
        inside = (rr >= top[None, :]) & (rr <= low[None, :])
        rec["a_line"] = float((a_sub & inside).any(axis=0).mean())
        recs.append(rec)
    return pd.DataFrame.from_records(recs, columns=cols_out)


def _meets(table: pd.DataFrame, criteria: BLineCriteria) -> np.ndarray:
    """Components meeting every criterion; a NaN criterion (not checkable) counts as met."""
    def ok(col: str, good: Any) -> np.ndarray:
        v = table[col].to_numpy(dtype=float)
        return ~np.isfinite(v) | good(v)

    return (ok("origin", lambda v: v <= criteria.origin) & ok("reach", lambda v: v >= criteria.reach)
            & ok("fading", lambda v: v >= criteria.fading) & ok("a_line", lambda v: v <= criteria.a_line))


def apply_b_line_criteria(
    masks: np.ndarray,
    image: np.ndarray | None = None,
    region: np.ndarray | None = None,
    criteria: BLineCriteria | None = None,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Keep only the B-line components of one frame that meet the consensus definition.

    Parameters
    ----------
    masks : (C, H, W) bool
    image : (H, W) uint8, optional
    region : (H, W) bool, optional
        See :func:`b_line_criteria`.
    criteria : BLineCriteria, optional
        Default :class:`BLineCriteria()`.

    Returns
    -------
    masks : (C, H, W) bool
        A copy with the rejected B-line components removed; the other classes unchanged.
    table : DataFrame
        :func:`b_line_criteria` with a boolean ``kept`` column.
    """
    from scipy import ndimage

    criteria = criteria or BLineCriteria()
    masks = np.asarray(masks, dtype=bool)
    table = b_line_criteria(masks, image, region)
    keep = _meets(table, criteria) if len(table) else np.zeros(0, dtype=bool)
    table = table.assign(kept=keep)
    out = masks.copy()
    if len(table) and not keep.all():
        lab, _ = ndimage.label(masks[B_LINE], structure=np.ones((3, 3), dtype=bool))
        kept_labels = table["label"].to_numpy()[keep]
        out[B_LINE] = np.isin(lab, kept_labels) & masks[B_LINE]
    return out, table


def postprocess_masks(
    cohort: Any,
    masks: str | os.PathLike,
    out: str | os.PathLike,
    *,
    criteria: BLineCriteria | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a copy of a mask set whose B-line masks meet the consensus definition.

    Every frame's B-line components are measured with :func:`b_line_criteria` on the
    cohort's image and scan region (detected per frame) and the failing ones are
    removed (:func:`apply_b_line_criteria`); the other classes and the
    probabilities are copied unchanged. ``masks.json`` keeps the source's metadata
    and adds ``postprocess`` (the criteria, the source folder and the numbers of
    components kept and removed); ``b_line_components.parquet`` in the new folder
    lists every component with its measures and ``frame``.

    Parameters
    ----------
    cohort : Cohort or path-like
    masks : path-like
        Source mask set (``lusfeat segment``).
    out : path-like
        New mask set folder.
    criteria : BLineCriteria, optional
    overwrite : bool

    Returns
    -------
    Path
        ``out``.
    """
    from ..data import MaskWriter, open_cohort, open_masks

    criteria = criteria or BLineCriteria()
    coh = cohort if hasattr(cohort, "images") else open_cohort(cohort)
    src = open_masks(masks)
    n, c, h, w = (int(s) for s in src.masks.shape)
    if n != len(coh.images):
        raise InputError(f"{masks} has {n} frames, the cohort {len(coh.images)}")
    tables = []
    with_p = src.probabilities is not None
    with MaskWriter(out, n, h, w, with_probabilities=with_p, overwrite=overwrite) as writer:
        step = 32
        for start in range(0, n, step):
            stop = min(n, start + step)
            m = np.asarray(src.masks[start:stop])
            imgs = np.asarray(coh.images[start:stop])
            res = np.empty_like(m)
            for i in range(stop - start):
                res[i], t = apply_b_line_criteria(m[i], imgs[i], criteria=criteria)
                tables.append(t.assign(frame=start + i))
            writer.write(start, res, np.asarray(src.probabilities[start:stop]) if with_p else None)
        table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
        meta = {k: v for k, v in src.meta.items() if k not in {"format", "format_version", "classes", "n_frames",
                                                              "height", "width", "has_probabilities"}}
        kept = int(table["kept"].sum()) if len(table) else 0
        meta["postprocess"] = {"b_line_criteria": asdict(criteria), "source": str(Path(masks).resolve()),
                               "b_line_components": int(len(table)), "kept": kept}
        table.to_parquet(writer._tmp / "b_line_components.parquet", index=False)
        writer.finish(meta)
    logger.info("B-line criteria: kept %d of %d components -> %s", kept, len(table), out)
    return Path(out)
