"""COCO 1.0 instance segmentation reader (``cocodataset.org/#format-data``).

``images`` (``id, file_name, width, height``), ``categories`` (``id, name``) and
``annotations`` (``image_id, category_id, segmentation, bbox, iscrowd``). A segmentation
is a list of polygons ``[x0, y0, x1, y1, ...]`` (each polygon one shape; the
annotation is their union) or an RLE ``{"size": [H, W], "counts": ...}`` with ``counts`` a
list (usually with ``iscrowd: 1``) or the compressed string. An annotation with an empty
segmentation is its ``bbox`` ``[x, y, width, height]``. Confidence: an attribute in
``annotation["attributes"]`` (as CVAT writes them) or ``score`` (0..1, detector output).
An annotation's ``annotator`` (top level or in ``attributes``) overrides the file's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._file import AnnotationFile, SourceInfo, as_points
from ._rle import coco_rle_decode
from ._shapes import Shape, ShapeKind

if TYPE_CHECKING:  # the ingest package imports this one
    from ..ingest._problems import Problems

__all__ = ["read_coco"]


def _segments(a: dict, size: tuple[int, int] | None) -> list[dict[str, Any]]:
    seg = a.get("segmentation")
    if isinstance(seg, dict):
        mask = coco_rle_decode(seg)
        if size is not None and mask.shape != size:
            raise ValueError(f"RLE size {list(mask.shape)} differs from the image's {list(size)}")
        return [{"kind": ShapeKind.MASK, "mask": mask}]
    if isinstance(seg, list) and seg:
        out = []
        for poly in seg:
            pts = as_points([float(v) for v in poly])
            if len(pts) < 3:
                raise ValueError(f"a polygon has {len(pts)} vertices; it needs at least 3")
            out.append({"kind": ShapeKind.POLYGON, "points": pts})
        return out
    bbox = a.get("bbox")
    if bbox is None or len(bbox) != 4:
        raise ValueError("no segmentation and no bbox [x, y, width, height]")
    x, y, w, h = (float(v) for v in bbox)
    return [{"kind": ShapeKind.BOX, "points": [[x, y], [x + w, y + h]]}]


def read_coco(path: Path, problems: Problems, annotator: str | None = None) -> AnnotationFile:
    """Read a COCO instance-segmentation JSON file.

    Parameters
    ----------
    path : Path
    problems : Problems
        Receives one error per malformed annotation and per unreadable file.
    annotator : str, optional
        Default annotator (default: the file stem).

    Returns
    -------
    AnnotationFile
    """
    out = AnnotationFile(path, "coco", annotator or path.stem)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        images = {int(im["id"]): im for im in data["images"]}
        cats = {int(c["id"]): str(c["name"]) for c in data.get("categories", [])}
        anns = data["annotations"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        problems.error(f"{path}: not a readable COCO file ({type(exc).__name__}: {exc}); it needs 'images' "
                       "with id/file_name/width/height and 'annotations'")
        return out
    for im in images.values():
        size = (int(im["height"]), int(im["width"])) if "height" in im and "width" in im else None
        out.sources[str(im["file_name"])] = SourceInfo(str(im["file_name"]), size, 1)
    for k, a in enumerate(anns):
        where = f"{path.name} annotation {a.get('id', k + 1)}"
        try:
            im = images[int(a["image_id"])]
            label = cats[int(a["category_id"])]
            src = out.sources[str(im["file_name"])]
            where += f" (image {src.name!r}, {label})"
            attrs = dict(a.get("attributes") or {})
            who = a.get("annotator") or attrs.get("annotator") or out.annotator
            score = float(a["score"]) if a.get("score") is not None else None
            for part in _segments(a, src.size):
                out.shapes.append(Shape(label=label, source=src.name, frame=0, annotator=str(who), where=where,
                                        attributes=attrs, score=score, image_size=src.size, **part))
        except KeyError as exc:
            problems.error(f"{where}: refers to missing {exc} (image_id/category_id not listed); fix the file")
        except (ValueError, TypeError) as exc:
            problems.error(f"{where}: malformed segmentation ({exc}); export the annotation again")
    return out
