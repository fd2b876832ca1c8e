"""Gray levels of a cohort standardised to the chest wall of another (e.g. a training) cohort.

The overall gain (and grey map) of an exported scan is set by the operator and the
scanner preset, so the same lung is brighter on one machine than on another; a
segmentation network trained on one gray-level distribution reads a brighter frame
as more echoic lung. The chest wall (skin, fat, muscle above the pleural line) is
soft tissue on every frame and view, whatever the lung shows, so its gray level is a
reference that does not depend on the findings. :func:`standardize_gray` scales
each frame so that the median gray level of its chest-wall band (the top
``band`` of its scan region, above the pleural line on lung views: the pleura lies at
10-45 % of the depth) equals ``target``, typically :func:`reference_level` of the
training cohort. Relative contrasts within the frame are kept (one factor per frame),
zero (outside the scan region) stays zero.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import InputError

__all__ = ["chest_wall_level", "reference_level", "scale_to_level", "standardize_gray", "training_cohort"]

logger = logging.getLogger(__name__)

#: Top share of the scan region's rows taken as chest wall.
CHEST_WALL_BAND = 0.10


def chest_wall_level(image: np.ndarray, band: float = CHEST_WALL_BAND, region: np.ndarray | None = None) -> float:
    """Median gray level of the top ``band`` of the scan region's rows.

    Parameters
    ----------
    image : (H, W) uint8
    band : float
        Share (0-1] of the region's rows, from its top.
    region : (H, W) bool, optional
        Scan region; by default detected (:func:`lusfeat.data.ingest.detect_scan_region`).

    Returns
    -------
    float
        NaN when the region is empty.
    """
    if not 0.0 < band <= 1.0:
        raise InputError(f"band must be in (0, 1], got {band}")
    image = np.asarray(image)
    if region is None:
        from .ingest import detect_scan_region

        region = detect_scan_region(image.astype(np.uint8)).mask
    region = np.asarray(region, dtype=bool)
    rows = np.flatnonzero(region.any(axis=1))
    if rows.size == 0:
        return float("nan")
    y0, y1 = int(rows[0]), int(rows[-1]) + 1
    stop = y0 + max(1, int(round(band * (y1 - y0))))
    sel = region.copy()
    sel[stop:] = False
    return float(np.median(image[sel]))


def scale_to_level(image: np.ndarray, target: float, band: float = CHEST_WALL_BAND,
                   region: np.ndarray | None = None) -> np.ndarray:
    """One frame scaled so that its :func:`chest_wall_level` is ``target`` (uint8, clipped).

    A frame whose chest wall is black (level below 1) is returned unchanged.
    """
    image = np.asarray(image, dtype=np.uint8)
    level = chest_wall_level(image, band, region)
    if not np.isfinite(level) or level < 1.0:
        return image.copy()
    return np.clip(np.rint(image.astype(np.float32) * np.float32(target / level)), 0, 255).astype(np.uint8)


def reference_level(cohort: Any, band: float = CHEST_WALL_BAND, max_frames: int = 200) -> float:
    """Median over frames of :func:`chest_wall_level` for a cohort (every k-th frame, at most ``max_frames``)."""
    from ._format import open_cohort

    coh = cohort if hasattr(cohort, "images") else open_cohort(cohort)
    n = int(coh.images.shape[0])
    idx = np.unique(np.linspace(0, n - 1, min(n, max_frames)).round().astype(int))
    imgs = np.asarray(coh.images[:])[idx] if n <= 4 * max_frames else np.stack([np.asarray(coh.images[i]) for i in idx])
    levels = np.array([chest_wall_level(im, band) for im in imgs])
    levels = levels[np.isfinite(levels)]
    if levels.size == 0:
        raise InputError(f"no frame of {coh.path} has a scan region to take a chest-wall level from")
    return float(np.median(levels))


def training_cohort(like: str | os.PathLike) -> Path:
    """The cohort a network was trained on, from a cohort, ``lusfeat train`` run or ``lusfeat pretrain`` folder.

    For an ensemble run (``lusfeat ensemble``) it is the first member's cohort.

    Raises
    ------
    InputError
        When ``like`` is none of these, or its training cohort is gone.
    """
    like = Path(like)
    if (like / "cohort.json").is_file():
        return like
    if (like / "pretrain.json").is_file() and (like / "cohort" / "cohort.json").is_file():
        return like / "cohort"
    if (like / "run.json").is_file():
        from .._io import read_json

        meta = read_json(like / "run.json")
        if meta.get("members"):  # an ensemble: the first member's cohort
            return training_cohort(meta["members"][0]["run"])
        path = Path(meta.get("cohort", {}).get("path", ""))
        if (path / "cohort.json").is_file():
            return path
        raise InputError(f"run {like} was trained on {path}, which is not a cohort folder any more; "
                         "give that cohort with --like, or a level with --level")
    raise InputError(f"--like {like} is not a cohort, run or pretrain folder; give one of them or --level")


def standardize_gray(cohort: Any, out: str | os.PathLike, target: float, *, band: float = CHEST_WALL_BAND,
                     overwrite: bool = False, progress: bool = False) -> Path:
    """Copy a cohort with every frame scaled to the chest-wall level ``target``.

    Parameters
    ----------
    cohort : Cohort or path-like
    out : path-like
        New cohort folder (same frames, confidence, truth and tables; ``cohort.json``
        adds ``gray_standardized``: the target, band and source).
    target : float
        Chest-wall gray level (0-255), e.g. :func:`reference_level` of the cohort a
        network was trained on.
    band : float
    overwrite : bool
    progress : bool
        Show a progress bar.

    Returns
    -------
    Path
        ``out``.
    """
    from ._format import CohortWriter, open_cohort

    if not 0.0 < float(target) <= 255.0:
        raise InputError(f"target must be a gray level in (0, 255], got {target}")
    coh = cohort if hasattr(cohort, "images") else open_cohort(cohort)
    n, h, w = (int(s) for s in coh.images.shape)
    a = int(coh.confidence.shape[1])
    truth = getattr(coh, "truth", None)
    from .._progress import progress_bar

    with CohortWriter(out, n, h, w, a, with_truth=truth is not None, overwrite=overwrite) as writer, \
            progress_bar(enabled=progress, transient=True) as bar:
        task = bar.add_task("standardising gray levels", total=n)
        for start in range(0, n, 16):
            stop = min(n, start + 16)
            imgs = np.asarray(coh.images[start:stop])
            scaled = np.stack([scale_to_level(im, target, band) for im in imgs])
            writer.write(start, scaled, np.asarray(coh.confidence[start:stop]),
                         None if truth is None else np.asarray(truth[start:stop]))
            bar.advance(task, stop - start)
        skip = {"format", "format_version", "classes", "n_frames", "height", "width", "n_annotators", "has_truth",
                "confidence_unit", "created", "lusfeat_version", "pixel_spacing_mm", "probe"}
        meta = {k: v for k, v in coh.meta.items() if k not in skip}
        meta["gray_standardized"] = {"target": float(target), "band": float(band), "source": str(coh.path)}
        writer.finish(meta, coh.frames, coh.clinical)
    logger.info("gray levels of %d frame(s) standardised to chest-wall level %.1f -> %s", n, target, out)
    return Path(out)
