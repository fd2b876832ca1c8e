"""Annotation-tool import: CVAT (XML 1.1, task backups), COCO and LabelMe shapes to confidence.

Each reader turns a file into :class:`Shape` objects in the tool's pixel coordinates; one
label mapping (:func:`parse_label_map`, :class:`AnnotationOptions`) gives each shape a
lusfeat class and a confidence in percent; one rasteriser (:func:`rasterise`,
:func:`confidence_planes`, exact rules in its module docstring) turns them into the
per-class confidence planes that ``lusfeat ingest`` stores. See
``docs/annotation-protocol.md`` for the annotation set-up and ``docs/ingest.md`` for the
ingest options.
"""

from ._file import AnnotationFile, SourceInfo
from ._labels import SKIP, AnnotationOptions, normalise_label, parse_label_map, resolve
from ._raster import EDGE_TOL, confidence_planes, rasterise
from ._read import AnnotationFormat, detect_format, frame_planes, group_shapes, read_annotations
from ._rle import (
    coco_rle_decode,
    coco_rle_encode,
    compress_counts,
    cvat_rle_decode,
    cvat_rle_encode,
    decompress_counts,
    rle_counts,
    rle_decode,
)
from ._shapes import Shape, ShapeKind

__all__ = [
    "EDGE_TOL",
    "SKIP",
    "AnnotationFile",
    "AnnotationFormat",
    "AnnotationOptions",
    "Shape",
    "ShapeKind",
    "SourceInfo",
    "coco_rle_decode",
    "coco_rle_encode",
    "compress_counts",
    "confidence_planes",
    "cvat_rle_decode",
    "cvat_rle_encode",
    "decompress_counts",
    "detect_format",
    "frame_planes",
    "group_shapes",
    "normalise_label",
    "parse_label_map",
    "rasterise",
    "read_annotations",
    "resolve",
    "rle_counts",
    "rle_decode",
]
