"""Attach annotation-tool shapes (CVAT, COCO, LabelMe) to the manifest's sources.

Shapes are matched to manifest rows by their source's file name: the path relative to
the manifest, else the file name alone (which must then be unique among the rows). A
file named on a row (``annotations`` column) belongs to that row; when it covers one
source only, no name matching is needed. Within a multi-frame source, a row with
``frame_index`` takes the shapes of that frame, a row without it those of every frame.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from ..annotations import AnnotationOptions, group_shapes, read_annotations
from ..annotations._file import AnnotationFile
from ._manifest import Annotation, ManifestEntry
from ._problems import Problems

__all__ = ["AnnotationSpec", "attach_annotations", "parse_annotation_specs"]

#: ``(path, format, annotator or None, where)`` of one annotation file.
AnnotationSpec = tuple[Path, str, str | None, str]


def parse_annotation_specs(items: Sequence[str | os.PathLike], format: str = "auto") -> list[AnnotationSpec]:
    """``--annotations [ANNOTATOR=]PATH`` values as specs (the annotator name is optional)."""
    out: list[AnnotationSpec] = []
    for item in items:
        text = os.fspath(item)
        name, sep, rest = text.partition("=")
        if sep and name and not Path(text).exists() and os.sep not in name and "/" not in name:
            out.append((Path(os.path.expanduser(rest)), format, name.strip(), f"--annotations {text}"))
        else:
            out.append((Path(os.path.expanduser(text)), format, None, f"--annotations {text}"))
    return out


def _index(entries: list[ManifestEntry]) -> tuple[dict[str, list], dict[str, list]]:
    by_rel: dict[str, list[ManifestEntry]] = defaultdict(list)
    by_name: dict[str, list[ManifestEntry]] = defaultdict(list)
    for e in entries:
        by_rel[e.rel].append(e)
        by_name[Path(e.rel).name].append(e)
    return by_rel, by_name


def _candidates(name: str, rows: list[ManifestEntry] | None, index, single: bool) -> list[ManifestEntry]:
    by_rel, by_name = index
    if rows is not None:  # a file named on rows: theirs by name, or all of it when it covers one source
        key = name.replace("\\", "/")
        named = [e for e in rows if key and (key == e.rel or Path(key).name == Path(e.rel).name)]
        return named or (rows if single else [])
    if not name:
        multi = [x for group in by_rel.values() for x in group if x.kind != "image"]
        return multi if len({e.rel for e in multi}) == 1 else []
    found = by_rel.get(name.replace("\\", "/")) or by_name.get(Path(name).name, [])
    return found if len({e.rel for e in found}) == 1 else []


def _pick(cands: list[ManifestEntry], frame: int) -> ManifestEntry | None:
    for e in cands:
        if e.frame_index == frame:
            return e
    for e in cands:
        if e.frame_index is None and (e.kind != "image" or frame == 0):
            return e
    return None


def attach_annotations(entries: list[ManifestEntry], annotators: list[str], specs: Sequence[AnnotationSpec],
                       options: AnnotationOptions, problems: Problems) -> list[AnnotationFile]:
    """Read every annotation file and add its shapes to the matching entries.

    Parameters
    ----------
    entries : list of ManifestEntry
        From :func:`read_manifest`; their ``annotation_files`` are read too.
    annotators : list of str
        The cohort's annotator axis; new annotators are appended.
    specs : sequence of AnnotationSpec
        Files given with ``--annotations``.
    options : AnnotationOptions
    problems : Problems

    Returns
    -------
    list of AnnotationFile
        Every file read (for provenance).
    """
    index = _index(entries)
    jobs: list[tuple[AnnotationSpec, list[ManifestEntry] | None]] = [(s, None) for s in specs]
    rows: dict[tuple, list[ManifestEntry]] = defaultdict(list)
    for e in entries:
        for spec in e.annotation_files:
            rows[(spec[0], spec[1], spec[2])].append(e)
    jobs += [((path, fmt, who, owners[0].where), owners) for (path, fmt, who), owners in rows.items()]
    read: list[AnnotationFile] = []
    for (path, fmt, who, where), owners in jobs:
        try:
            files = read_annotations(path, fmt, problems, annotator=who)
        except Exception as exc:  # noqa: BLE001 - reported with the file's origin
            problems.error(f"{where}: {exc}")
            continue
        read += files
        single = len({name for f in files for name in f.sources}) <= 1
        for (source, frame, annotator), items in group_shapes(files, options, problems).items():
            entry = _pick(_candidates(source, owners, index, single), frame)
            if entry is None:
                problems.warn(f"{path.name}: {len(items)} shape(s) on {source or 'the video'!r} frame {frame} "
                              "match no manifest row; add a row for that file (and frame_index) or name the "
                              "file in the row's annotations column")
                continue
            entry.annotations.append(Annotation(annotator=annotator, where=f"{path.name} ({entry.rel} frame {frame})",
                                                shapes=items, source_frame=frame, line_width=options.line_width))
            if annotator not in annotators:
                annotators.append(annotator)
    _check_duplicates(entries, problems)
    return read


def _check_duplicates(entries: list[ManifestEntry], problems: Problems) -> None:
    for e in entries:
        seen: dict[tuple[str, int], Annotation] = {}
        for ann in e.annotations:
            if ann.shapes is None:
                continue
            key = (ann.annotator, ann.source_frame or 0)
            if key in seen:
                problems.error(f"{ann.where}: annotator {ann.annotator!r} already labelled this frame in "
                               f"{seen[key].where}; give each annotator one file (ANNOTATOR=PATH)")
            seen.setdefault(key, ann)
        masks = {a.annotator for a in e.annotations if a.shapes is None}
        for ann in e.annotations:
            if ann.shapes is not None and ann.annotator in masks:
                problems.error(f"{ann.where}: annotator {ann.annotator!r} also has mask files for {e.rel}; "
                               "give each annotator either masks or shapes")
                break
