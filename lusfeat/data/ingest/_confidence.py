"""Load confidence masks: grayscale confidence images or binary masks with a region table."""

from __future__ import annotations

import math
from enum import StrEnum
from pathlib import Path

import numpy as np
import pandas as pd

from .._format import CLASS_NAMES
from ._manifest import Annotation
from ._problems import Problems

__all__ = ["CONFIDENCE_SCALES", "ConfidenceScale", "load_annotation", "choose_scale", "to_percent"]

class ConfidenceScale(StrEnum):
    """How mask values map to percent (a plain string works too)."""

    AUTO = "auto"  # detect from the largest value of all masks
    PERCENT = "percent"  # 0-100
    BYTE = "byte"  # 0-255, scaled to percent


#: ``auto`` (detect), ``percent`` (0-100) or ``byte`` (0-255, scaled to percent).
CONFIDENCE_SCALES = tuple(s.value for s in ConfidenceScale)


def _read_plane_file(path: Path) -> np.ndarray:
    if path.suffix.lower() == ".npy":
        return np.load(path, allow_pickle=False)
    if path.suffix.lower() in (".tif", ".tiff"):
        import tifffile

        return tifffile.imread(path)
    from PIL import Image

    with Image.open(path) as im:
        im.load()  # raises on truncated files
        arr = np.asarray(im)  # raw stored values: palette images give their indices
    if arr.ndim == 3 and arr.shape[-1] in (3, 4):
        if not (np.array_equal(arr[..., 0], arr[..., 1]) and np.array_equal(arr[..., 0], arr[..., 2])):
            raise ValueError("mask is a colour image; save it as single-channel grayscale")
        arr = arr[..., 0]
    return arr


def load_annotation(
    ann: Annotation, shape: tuple[int, int], problems: Problems
) -> np.ndarray | None:
    """Read one annotator's masks for one frame as raw values ``(C, H, W) float64``.

    Values are as stored (not yet scaled to percent); NaN marks "class not given".
    With a confidence table, binary masks are labelled (8-connected, raster order) and
    each region gets its confidence in percent from the table (the result is then
    already in percent and is returned negated-free with ``ann.table`` set).

    Shapes from an annotation tool (``ann.shapes``) are rasterised instead; the result is
    then in percent, 0 where no shape lies.

    Returns ``None`` and records problems when a file is unreadable, a mask's size
    differs from its image, a value is negative, a table row is invalid or a shape
    lies outside the frame.
    """
    if ann.shapes is not None:
        from ..annotations import frame_planes

        return frame_planes(ann.shapes, tuple(shape), ann.line_width, problems)
    h, w = shape
    out = np.full((len(CLASS_NAMES), h, w), np.nan)
    ok = True
    planes: dict[str, np.ndarray] = {}
    try:
        if ann.stack_path is not None:
            stack = np.asarray(_read_plane_file(ann.stack_path))
            if stack.ndim == 2:
                stack = stack[None]
            if stack.ndim != 3 or stack.shape[0] != len(CLASS_NAMES):
                problems.error(
                    f"{ann.where}: mask stack {ann.stack_path.name} has shape {stack.shape}; expected "
                    f"({len(CLASS_NAMES)}, {h}, {w}), one plane per class in order {list(CLASS_NAMES)}"
                )
                return None
            planes = {c: stack[i] for i, c in enumerate(CLASS_NAMES)}
            src = {c: ann.stack_path for c in CLASS_NAMES}
        else:
            src = dict(ann.class_paths)
            for c, p in ann.class_paths.items():
                planes[c] = np.asarray(_read_plane_file(p))
    except Exception as exc:
        problems.error(f"{ann.where}: cannot read mask ({type(exc).__name__}: {exc}); re-export the mask file")
        return None
    for c, plane in planes.items():
        if plane.ndim != 2 or plane.shape != (h, w):
            problems.error(
                f"{ann.where}: mask {src[c].name} ({c}) is {plane.shape[::-1] if plane.ndim == 2 else plane.shape} "
                f"(W x H) but its image is {w} x {h}; export the mask at the image's size"
            )
            ok = False
            continue
        if np.issubdtype(plane.dtype, np.floating) and not np.isfinite(plane).all():
            problems.error(f"{ann.where}: mask {src[c].name} ({c}) contains NaN/inf; use 0 for no confidence")
            ok = False
            continue
        if plane.size and float(plane.min()) < 0:
            problems.error(f"{ann.where}: mask {src[c].name} ({c}) has negative values; confidence is 0-100 or 0-255")
            ok = False
            continue
        out[CLASS_NAMES.index(c)] = plane.astype(np.float64)
    if not ok:
        return None
    if ann.table is not None:
        return _apply_table(ann, out, problems)
    return out


def _apply_table(ann: Annotation, raw: np.ndarray, problems: Problems) -> np.ndarray | None:
    from skimage.measure import label

    try:
        table = pd.read_csv(ann.table)
    except Exception as exc:
        problems.error(f"{ann.where}: confidence table {ann.table} is unreadable ({exc}); save it as CSV")
        return None
    need = {"class", "region", "confidence"}
    if not need <= set(table.columns):
        problems.error(f"{ann.where}: confidence table {ann.table.name} needs the columns {sorted(need)}; has {list(table.columns)}")
        return None
    out = np.where(np.isnan(raw), np.nan, 0.0)
    ok = True
    for j, trow in enumerate(table.to_dict("records")):
        tw = f"{ann.table.name} line {j + 2}"
        cls = str(trow["class"]).strip()
        if cls not in CLASS_NAMES:
            problems.error(f"{tw}: unknown class name {cls!r}; use one of {list(CLASS_NAMES)}")
            ok = False
            continue
        k = CLASS_NAMES.index(cls)
        if np.isnan(raw[k]).all():
            problems.error(f"{tw}: class {cls} has no mask in {ann.where}; add its mask or drop the row")
            ok = False
            continue
        try:
            region, conf = int(trow["region"]), float(trow["confidence"])
        except (TypeError, ValueError):
            problems.error(f"{tw}: region and confidence must be numbers; got {trow['region']!r}, {trow['confidence']!r}")
            ok = False
            continue
        if not (0 <= conf <= 100) or math.isnan(conf):
            problems.error(f"{tw}: confidence {conf:g} is outside 0-100 (percent)")
            ok = False
            continue
        plane = raw[k]
        labels = plane.astype(np.int64) if np.unique(plane).size > 2 else label(plane > 0, connectivity=2)
        if region < 1 or region > labels.max():
            problems.error(f"{tw}: region {region} does not exist; the {cls} mask has {int(labels.max())} region(s) (numbered 1.. in raster order)")
            ok = False
            continue
        out[k][labels == region] = conf
    if not ok:
        return None
    return out


def choose_scale(option: str, max_value: float, problems: Problems) -> str:
    """Resolve the confidence scale from the option and the largest raw mask value.

    ``auto``: values above 100 mean 0-255 (scaled); values of at most 1 mean binary masks
    (1 = 100 %); otherwise percent. Returns ``"percent"``, ``"byte"`` or ``"binary"``.
    """
    if option not in CONFIDENCE_SCALES:
        problems.error(f"confidence scale {option!r} is not one of {list(CONFIDENCE_SCALES)}")
        return "percent"
    if option != "auto":
        return str(ConfidenceScale(option).value)
    if max_value > 100:
        problems.note(f"confidence masks go up to {max_value:g}: read as 0-255 and scaled to percent")
        return "byte"
    if 0 < max_value <= 1:
        problems.note("confidence masks hold only 0/1: read as binary masks (1 = 100 %)")
        return "binary"
    return "percent"


def to_percent(raw: np.ndarray, scale: str) -> np.ndarray:
    """Scale raw values to percent (NaN, meaning "not given", becomes 0)."""
    v = np.nan_to_num(raw, nan=0.0)
    if scale == "byte":
        v = v * (100.0 / 255.0)
    elif scale == "binary":
        v = (v > 0) * 100.0
    return np.clip(v, 0, 100)
