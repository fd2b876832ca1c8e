"""One entry point for every annotation format: read files, map labels, rasterise frames."""

from __future__ import annotations

import os
from collections import defaultdict
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..._errors import InputError
from ._coco import read_coco
from ._cvat import read_cvat_backup, read_cvat_xml
from ._file import AnnotationFile
from ._labelme import read_labelme
from ._labels import SKIP, AnnotationOptions, normalise_label, resolve
from ._raster import confidence_planes, rasterise
from ._shapes import Shape

if TYPE_CHECKING:  # the ingest package imports this one
    from ..ingest._problems import Problems

__all__ = ["AnnotationFormat", "FrameKey", "detect_format", "read_annotations", "group_shapes", "frame_planes"]

#: ``(source name, source frame, annotator)``.
FrameKey = tuple[str, int, str]


class AnnotationFormat(StrEnum):
    """Annotation file formats (a plain string works too)."""

    AUTO = "auto"
    CVAT = "cvat"  # CVAT for images / for video 1.1 XML
    CVAT_IMAGES = "cvat-images"
    CVAT_VIDEO = "cvat-video"
    CVAT_BACKUP = "cvat-backup"
    COCO = "coco"
    LABELME = "labelme"


def detect_format(path: Path) -> str:
    """Guess the format of an annotation file or folder from its name and first bytes.

    Raises
    ------
    InputError
        When the path does not exist or matches no format.
    """
    if not path.exists():
        raise InputError(f"annotation file {path} does not exist; check the --annotations path")
    if path.is_dir():
        if (path / "task.json").is_file():
            return "cvat-backup"
        if any(path.glob("*.json")):
            return "labelme"
        raise InputError(f"{path}: folder holds neither a CVAT backup (task.json) nor LabelMe JSON files; pass --format")
    suffix = path.suffix.lower()
    if suffix == ".xml":
        return "cvat"
    if suffix == ".zip":
        return "cvat-backup"
    if suffix == ".json":
        head = path.read_text(encoding="utf-8", errors="replace")[:4096]
        return "labelme" if '"shapes"' in head and '"imagePath"' in head else "coco"
    raise InputError(f"{path}: cannot tell the annotation format from the suffix {suffix!r}; pass --format "
                     f"({', '.join(f.value for f in AnnotationFormat if f is not AnnotationFormat.AUTO)})")


def read_annotations(path: str | os.PathLike, format: str = "auto", problems: Problems | None = None,
                     annotator: str | None = None) -> list[AnnotationFile]:
    """Read an annotation file (or a CVAT backup, or a folder of LabelMe files).

    Parameters
    ----------
    path : path-like
    format : str
        One of :class:`AnnotationFormat`; ``auto`` detects it.
    problems : Problems, optional
        Collects malformed shapes and files (a fresh one raises at the end when given none).
    annotator : str, optional
        Annotator of every shape; default: the tool's user field, else the file name.

    Returns
    -------
    list of AnnotationFile
        One per file read (several for a LabelMe folder).
    """
    from ..ingest._problems import Problems

    own = problems is None
    problems = problems if problems is not None else Problems()
    path = Path(path)
    try:
        fmt = AnnotationFormat(format)
    except ValueError:
        raise InputError(f"--format {format!r} is not one of {[f.value for f in AnnotationFormat]}") from None
    kind = detect_format(path) if fmt is AnnotationFormat.AUTO else fmt.value
    if kind != "cvat-backup" and not path.exists():
        raise InputError(f"annotation file {path} does not exist; check the --annotations path")
    if kind in ("cvat", "cvat-images", "cvat-video"):
        files = [read_cvat_xml(path, problems, annotator)]
    elif kind == "cvat-backup":
        files = [read_cvat_backup(path, problems, annotator)]
    elif kind == "coco":
        files = [read_coco(path, problems, annotator)]
    elif path.is_dir():
        files = [read_labelme(p, problems, annotator or path.name) for p in sorted(path.glob("*.json"))]
    else:
        files = [read_labelme(path, problems, annotator)]
    for f in files:
        for note in f.notes:
            problems.note(note)
    if own:
        problems.raise_if_any(f"reading {path}")
    return files


def group_shapes(files: list[AnnotationFile], options: AnnotationOptions,
                 problems: Problems) -> dict[FrameKey, list[tuple[Shape, str, float]]]:
    """Map labels, resolve confidence and group shapes by frame and annotator.

    Unknown labels are reported once per file and label (a warning, an error with
    ``strict``) and their shapes skipped; shapes with an invalid confidence are errors.

    Returns
    -------
    dict
        ``(source, frame, annotator) -> [(shape, class, confidence percent), ...]``.
    """
    out: dict[FrameKey, list[tuple[Shape, str, float]]] = defaultdict(list)
    for f in files:
        unknown: dict[str, int] = defaultdict(int)
        for s in f.shapes:
            cls, conf, problem = resolve(s, options)
            if problem:
                problems.error(problem)
            elif cls is None:
                unknown[normalise_label(s.label)] += 1
            elif cls != SKIP and conf is not None:
                out[(s.source, s.frame, s.annotator)].append((s, cls, conf))
        for label, n in unknown.items():
            problems.warn(f"{f.path.name}: label {label!r} ({n} shape(s)) is not a lusfeat class; skipped "
                          f"(map it with --label-map {label}=CLASS, or to '-' to skip it quietly)")
    return dict(out)


def frame_planes(items: list[tuple[Shape, str, float]], size: tuple[int, int], line_width: float,
                 problems: Problems) -> np.ndarray | None:
    """Confidence planes of one annotator on one frame, checking each shape against the frame.

    Parameters
    ----------
    items : list of (Shape, class, confidence)
    size : (H, W)
        Size of the decoded source frame.
    line_width : float
        Width in pixels of polylines that state none.
    problems : Problems

    Returns
    -------
    (C, H, W) float64 or None
        Percent (see :func:`lusfeat.data.annotations.confidence_planes`); ``None`` after
        recording an error for a shape drawn on a frame of another size or lying wholly
        outside the frame.
    """
    ok = True
    for s, _, _ in items:
        if s.image_size is not None and tuple(s.image_size) != tuple(size):
            problems.error(f"{s.where}: the file says the frame is {s.image_size[1]} x {s.image_size[0]} (W x H) "
                           f"but the source frame is {size[1]} x {size[0]}; annotate the same file you ingest")
            ok = False
        elif not rasterise(s, size, line_width).any():
            problems.error(f"{s.where}: the shape covers no pixel of the {size[1]} x {size[0]} frame "
                           "(outside the image, or empty); move or delete it")
            ok = False
    return confidence_planes(items, size, line_width) if ok else None
