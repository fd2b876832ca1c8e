"""LabelMe JSON reader (one file per image, as the LabelMe application saves it).

``imagePath``, ``imageHeight``, ``imageWidth`` and ``shapes``, each with ``label``,
``points`` (``[[x, y], ...]``) and ``shape_type``: ``polygon``; ``rectangle`` (two
corners); ``circle`` (centre, then a point on the circle); ``line`` and ``linestrip``
(polylines); ``point``/``points``; ``mask`` (``points`` = the mask's top-left and
bottom-right corners, ``mask`` = a base64 PNG of the mask, placed with its top-left pixel
at ``floor(points[0])``). LabelMe has no attributes: the confidence comes from a label
suffix (``b_line_70``) or from ``NAME=VALUE`` pairs in the shape's ``description``
(``confidence=70``).
"""

from __future__ import annotations

import base64
import io
import json
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ._file import AnnotationFile, SourceInfo
from ._shapes import Shape, ShapeKind

if TYPE_CHECKING:  # the ingest package imports this one
    from ..ingest._problems import Problems

__all__ = ["read_labelme"]

_KINDS = {"polygon": ShapeKind.POLYGON, "rectangle": ShapeKind.BOX, "circle": ShapeKind.ELLIPSE,
          "line": ShapeKind.POLYLINE, "linestrip": ShapeKind.POLYLINE, "point": ShapeKind.POINTS,
          "points": ShapeKind.POINTS, "mask": ShapeKind.MASK}


def _decode_png(text: str, size: tuple[int, int], corner: np.ndarray) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(base64.b64decode(text))) as im:
        crop = np.asarray(im.convert("L")) > 0
    out = np.zeros(size, bool)
    x0, y0 = math.floor(corner[0]), math.floor(corner[1])
    ys, xs = slice(max(y0, 0), min(y0 + crop.shape[0], size[0])), slice(max(x0, 0), min(x0 + crop.shape[1], size[1]))
    if ys.stop > ys.start and xs.stop > xs.start:
        out[ys, xs] = crop[ys.start - y0 : ys.stop - y0, xs.start - x0 : xs.stop - x0]
    return out


def _geometry(d: dict, size: tuple[int, int] | None) -> dict:
    kind = _KINDS[d.get("shape_type") or "polygon"]
    pts = np.asarray(d["points"], np.float64).reshape(-1, 2)
    if kind is ShapeKind.MASK:
        if size is None:
            raise ValueError("a mask needs imageHeight and imageWidth")
        return {"kind": kind, "mask": _decode_png(d["mask"], size, pts[0])}
    if kind is ShapeKind.ELLIPSE:
        r = float(np.hypot(*(pts[1] - pts[0])))
        return {"kind": kind, "points": [pts[0], [r, r]]}
    need = {ShapeKind.POLYGON: 3, ShapeKind.BOX: 2, ShapeKind.POLYLINE: 2, ShapeKind.POINTS: 1}[kind]
    if len(pts) < need:
        raise ValueError(f"{d.get('shape_type')} has {len(pts)} point(s); it needs at least {need}")
    return {"kind": kind, "points": pts}


def read_labelme(path: Path, problems: Problems, annotator: str | None = None) -> AnnotationFile:
    """Read one LabelMe JSON file.

    Parameters
    ----------
    path : Path
    problems : Problems
        Receives one error per malformed shape and per unreadable file.
    annotator : str, optional
        Annotator of every shape (default: the file's folder name when several files are
        read as a folder, else the file stem).

    Returns
    -------
    AnnotationFile
    """
    out = AnnotationFile(path, "labelme", annotator or path.stem)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        name = str(data["imagePath"]).replace("\\", "/")
        shapes = data["shapes"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        problems.error(f"{path}: not a readable LabelMe file ({type(exc).__name__}: {exc}); "
                       "it needs 'imagePath' and 'shapes'")
        return out
    size = (int(data["imageHeight"]), int(data["imageWidth"])) if data.get("imageHeight") else None
    out.sources[name] = SourceInfo(name, size, 1)
    for k, d in enumerate(shapes):
        where = f"{path.name} shape {k + 1} ({d.get('shape_type', 'polygon')} {d.get('label')!r})"
        if (d.get("shape_type") or "polygon") not in _KINDS:
            problems.error(f"{where}: shape type {d.get('shape_type')!r} is not one of {sorted(_KINDS)}")
            continue
        attrs = dict(re.findall(r"(\w+)\s*=\s*([^\s,;]+)", str(d.get("description") or "")))
        try:
            out.shapes.append(Shape(label=str(d["label"]), source=name, frame=0, annotator=out.annotator,
                                    where=where, attributes=attrs, image_size=size, **_geometry(d, size)))
        except (KeyError, ValueError, TypeError, OSError) as exc:
            problems.error(f"{where}: malformed shape ({type(exc).__name__}: {exc}); fix it in LabelMe and save again")
    return out
