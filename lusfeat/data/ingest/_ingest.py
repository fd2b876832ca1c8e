"""``ingest``: turn a manifest of real scans (+ masks, + clinical table) into a cohort."""

from __future__ import annotations

import logging
import math
import os
import platform
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..._errors import InputError
from ..._io import file_digest, fingerprint
from ..._progress import progress_bar
from .._format import CLASS_NAMES, FRAME_COLUMNS, CohortWriter
from ..annotations import AnnotationOptions
from ._annotations import AnnotationSpec, attach_annotations
from ._clinical import empty_clinical, read_clinical
from ._confidence import (
    CONFIDENCE_SCALES,
    ConfidenceScale,
    choose_scale,
    load_annotation,
    to_percent,
)
from ._manifest import ManifestEntry, read_manifest
from ._preprocess import apply_geometry, geometry, preprocess_frame
from ._problems import Problems
from ._readers import SourceFrames, read_source
from ._sector import detect_scan_region
from ._sources import manifest_from_annotations

__all__ = ["PREPROCESSING_COLUMNS", "ingest"]

logger = logging.getLogger(__name__)

#: Decoded frames kept between the checking and the writing pass (bytes); beyond this
#: sources are decoded again rather than held in memory.
CACHE_BYTES = 512 * 2**20

#: Frame-table columns ingest adds to :data:`lusfeat.data.FRAME_COLUMNS`.
PREPROCESSING_COLUMNS = (
    "source_path", "source_kind", "source_frame", "orig_height", "orig_width",
    "crop_y0", "crop_y1", "crop_x0", "crop_x1", "pad_top", "pad_left", "scale",
    "orig_pixel_spacing_mm", "spacing_source", "region_kind", "region_fraction",
    "colour_pixels", "probe_source",
)



def _read(entry: ManifestEntry, every: int, deidentify: bool) -> SourceFrames:
    sel = entry.frame_index if entry.kind != "image" else None
    src = read_source(entry.path, every=every, frame_index=sel, deidentify=deidentify)
    if entry.kind == "image" and src.frames.shape[0] > 1 and entry.frame_index is not None:
        if entry.frame_index >= src.frames.shape[0]:
            raise ValueError(f"frame_index {entry.frame_index} is outside the file's {src.frames.shape[0]} pages")
        k = entry.frame_index
        src.frames, src.indices = src.frames[k : k + 1], src.indices[k : k + 1]
    return src


def _fix_for(exc: Exception) -> str:
    """The fix to suggest for a source that could not be decoded."""
    text = str(exc).lower()
    if "plugin" in text or "handler" in text or "decompress" in text:
        return ("install the pydicom pixel-data plugin for its transfer syntax (e.g. pylibjpeg, "
                "python-gdcm) or export the DICOM uncompressed")
    return "re-export the file (it may be truncated or corrupt)"


def _versions() -> dict[str, str]:
    import pydicom
    import skimage

    from ..._version import __version__

    return {"lusfeat": __version__, "numpy": np.__version__, "pandas": pd.__version__,
            "scikit-image": skimage.__version__, "pydicom": pydicom.__version__,
            "python": platform.python_version()}


# Over 80 lines only through its docstring (every option of the public entry point); the
# body is the short sequence of named steps below.
def ingest(
    manifest: str | os.PathLike | None,
    out: str | os.PathLike,
    *,
    clinical: str | os.PathLike | None = None,
    size: int = 256,
    every: int = 1,
    confidence_scale: str | ConfidenceScale = "auto",
    column_map: Mapping[str, str] | None = None,
    na_codes: Sequence[str | float] = (),
    flow_to_fio2: bool = False,
    sheet: str | None = None,
    deidentify: bool = True,
    strict: bool = False,
    overwrite: bool = False,
    progress: bool = False,
    annotations: Sequence[AnnotationSpec] = (),
    annotation_options: AnnotationOptions | None = None,
    id_pattern: str | None = None,
) -> Path:
    """Ingest real LUS scans listed in a manifest into a lusfeat cohort.

    Every input is checked first; all problems are reported together in one
    :class:`lusfeat.ValidationError` and nothing is written. Then each source is decoded,
    its scan region detected (once per multi-frame file or per clip of single images, on
    the pixelwise maximum over the frames), each frame
    preprocessed (gray, colour overlays filled, outside-region pixels zeroed, cropped,
    padded to a square, resized to ``size``), masks transformed alike, and the cohort
    written atomically.

    Parameters
    ----------
    manifest : path-like or None
        Manifest CSV (layout in ``docs/ingest.md``). ``None`` ingests the images and
        videos the ``annotations`` refer to, found beside the annotation files, with IDs
        from ``id_pattern`` (see :mod:`lusfeat.data.ingest._sources`).
    out : path-like
        Cohort folder to create.
    clinical : path-like, optional
        Clinical CSV/Excel table, one row per exam (see :func:`read_clinical`).
    size : int
        Side of the stored square frames in pixels.
    every : int
        Keep every ``every``-th frame of videos and multi-frame DICOM/TIFF.
    confidence_scale : {"auto", "percent", "byte"}
        How mask values map to percent; ``auto`` reads 0-255 when any value exceeds 100
        and binary 0/1 masks as 100 %.
    column_map, na_codes, flow_to_fio2, sheet
        Passed to :func:`read_clinical`.
    deidentify : bool
        Copy only technical DICOM tags (default); see ``DICOM_IDENTIFYING_TAGS``.
    strict : bool
        Treat warnings (e.g. an exam without a clinical row) as errors.
    overwrite : bool
        Replace an existing cohort at ``out``.
    progress : bool
        Show a progress bar.
    annotations : sequence of (path, format, annotator or None, where)
        Annotation-tool files (CVAT XML or backup, COCO, LabelMe; see
        :func:`lusfeat.data.annotations.read_annotations`) whose shapes are matched to
        the manifest's sources by file name (see :mod:`lusfeat.data.ingest._annotations`);
        ``lusfeat ingest --annotations [ANNOTATOR=]PATH``. Files can also be named per
        row in the manifest's ``annotations`` column.
    annotation_options : AnnotationOptions, optional
        Label map, confidence attribute, default confidence and line width of the shapes.
    id_pattern : str, optional
        Without a manifest: a regular expression with the named groups ``patient_id``
        and ``zone`` (optionally ``exam_id``, ``clip_id``) searched in each source's name.

    Returns
    -------
    Path
        The cohort folder.

    Raises
    ------
    lusfeat.ValidationError
        Listing every problem found in the manifest, files, masks and clinical table.
    lusfeat.InputError
        For invalid options or an existing ``out`` without ``overwrite``.

    Examples
    --------
    >>> from lusfeat.data.ingest import ingest  # doctest: +SKIP
    >>> ingest("scans/manifest.csv", "study/cohort", clinical="scans/clinical.xlsx")  # doctest: +SKIP
    """
    confidence_scale, out = _check_options(out, size, every, confidence_scale, overwrite)
    problems = Problems(strict=strict)
    table = None
    if manifest is None:
        manifest, table = manifest_from_annotations(annotations, id_pattern, problems)
        annotations = ()  # each generated row names its annotation file
    manifest = Path(manifest)
    entries, annotators = read_manifest(manifest, problems, table=table)
    ann_options = annotation_options or AnnotationOptions()
    ann_files = attach_annotations(entries, annotators, annotations, ann_options, problems)
    _check_unannotated(entries, problems)

    # ---- pass 1: check every source, mask and the clinical table ----------------------
    checked = _check_sources(entries, every, deidentify, progress, problems)
    scale = _confidence_scale_used(confidence_scale, checked.ann_max, problems)
    exams = _exam_table(entries, problems)
    if clinical is not None:
        clin = read_clinical(clinical, exams, problems, column_map=column_map, na_codes=na_codes,
                             flow_to_fio2=flow_to_fio2, sheet=sheet)
    else:
        clin = empty_clinical(exams)
    if not entries and not problems.errors:
        problems.error(f"manifest {manifest} lists no frames; add rows")
    problems.raise_if_any(f"ingest of {manifest}")
    regions = {key: detect_scan_region(top) for key, top in checked.region_max.items()}
    checked.region_max.clear()

    # ---- pass 2: preprocess and write ----------------------------------------------
    n = sum(checked.counts.values())
    options = {"size": size, "every": every, "confidence_scale": confidence_scale,
               "confidence_scale_used": scale, "column_map": dict(column_map or {}),
               "na_codes": [str(c) for c in na_codes], "flow_to_fio2": flow_to_fio2,
               "sheet": sheet, "deidentify": deidentify, "strict": strict}
    with CohortWriter(out, n, size, size, max(1, len(annotators)), overwrite=overwrite) as writer:
        rows, headers = _write_frames(writer, entries, checked, regions, annotators, size=size, every=every,
                                      deidentify=deidentify, scale=scale, progress=progress)
        frames = pd.DataFrame(rows, columns=list(FRAME_COLUMNS) + list(PREPROCESSING_COLUMNS))
        hashes = checked.hashes + [(str(f.path), _digest(f.path)) for f in ann_files]
        meta = _cohort_meta(manifest, table, clinical, hashes, annotators, options, problems, ann_files,
                            ann_options, id_pattern, headers)
        writer.finish(meta, frames, clin)
    logger.info("ingested %d frame(s) from %d source(s) into %s", n, len(entries), out)
    return out


def _check_options(out: str | os.PathLike, size: int, every: int, confidence_scale: str | ConfidenceScale,
                   overwrite: bool) -> tuple[str, Path]:
    """Check the options of :func:`ingest` that need no input file.

    Returns
    -------
    (str, Path)
        The confidence scale as a string and ``out`` as a path.

    Raises
    ------
    lusfeat.InputError
        Naming the first invalid option, or an existing ``out`` without ``overwrite``.
    """
    if int(size) < 8:
        raise InputError(f"size must be at least 8 pixels; got {size}")
    if int(every) < 1:
        raise InputError(f"every must be a positive integer (1 = every frame); got {every}")
    if confidence_scale not in CONFIDENCE_SCALES:
        raise InputError(f"confidence_scale must be one of {list(CONFIDENCE_SCALES)}; got {confidence_scale!r}")
    out = Path(out)
    if out.exists() and not overwrite and (not out.is_dir() or any(out.iterdir())):
        raise InputError(f"output {out} already exists; choose another path or pass --overwrite")
    return str(confidence_scale), out


@dataclass
class _Checked:
    """What the checking pass of :func:`ingest` learnt about the manifest's sources.

    Entries are keyed by their position in the manifest.
    """

    #: Frames kept from each readable entry.
    counts: dict[int, int] = field(default_factory=dict)
    #: Decoded sources kept for the writing pass (up to :data:`CACHE_BYTES` in all).
    cache: dict[int, SourceFrames] = field(default_factory=dict)
    cached_bytes: int = 0
    #: Key of the scan region each entry shares (its clip of images, or the entry itself).
    region_of: dict[int, tuple] = field(default_factory=dict)
    #: Pixelwise maximum over the frames of each scan region.
    region_max: dict[tuple, np.ndarray] = field(default_factory=dict)
    #: ``(where, largest value)`` of every confidence mask read.
    ann_max: list[tuple[str, float]] = field(default_factory=list)
    #: ``(path, digest)`` of every source and mask file.
    hashes: list[tuple[str, str]] = field(default_factory=list)
    #: Manifest location of each frame ID seen so far.
    frame_ids: dict[str, str] = field(default_factory=dict)
    #: Next free frame index of each clip of single images.
    clip_next: dict[str, int] = field(default_factory=dict)
    #: ``(frame ID, frame index)`` of each kept frame of each entry.
    ids: dict[int, list[tuple[str, int]]] = field(default_factory=dict)


def _check_sources(entries: list[ManifestEntry], every: int, deidentify: bool, progress: bool,
                   problems: Problems) -> _Checked:
    """Pass 1 of :func:`ingest`: decode every source and mask once, recording problems.

    Returns
    -------
    _Checked
        Frame counts, cached frames, scan-region maxima, mask maxima, digests and frame IDs.
    """
    checked = _Checked()
    for k, entry in enumerate(_progress(entries, progress, "checking inputs")):
        try:
            src = _read(entry, every, deidentify)
        except Exception as exc:
            problems.error(f"{entry.where}: cannot read {entry.rel} ({type(exc).__name__}: {exc}); {_fix_for(exc)}")
            continue
        _check_source(k, entry, src, every, checked, problems)
    return checked


def _check_source(k: int, entry: ManifestEntry, src: SourceFrames, every: int, checked: _Checked,
                  problems: Problems) -> None:
    """Check the decoded source of manifest entry ``k`` and its masks; record them in ``checked``."""
    if checked.cached_bytes + src.frames.nbytes <= CACHE_BYTES:  # decoded once when it fits
        checked.cache[k] = src
        checked.cached_bytes += src.frames.nbytes
    for note in src.notes:
        problems.note(f"{entry.rel}: {note}")
    checked.counts[k] = src.frames.shape[0]
    checked.hashes.append((entry.rel, file_digest(entry.path)))
    if src.frames.size and src.frames.min() == src.frames.max():  # nothing on it: a failed or empty export
        problems.warn(f"{entry.where}: every pixel of {entry.rel} is {float(src.frames.flat[0]):g}; "
                      "it shows no scan, check the export or drop the row")
    for ann in entry.annotations:
        for mask_file in [*ann.class_paths.values(), ann.stack_path, ann.table]:
            if mask_file is not None:
                checked.hashes.append((str(mask_file), file_digest(mask_file)))
    _check_frames(entry, src, every, problems)
    # one scan region per clip of single images (same size), one per multi-frame file
    rkey = (entry.clip_id, src.frames.shape[1:]) if entry.kind == "image" else (k,)
    checked.region_of[k] = rkey
    top = src.frames.max(axis=0)
    region_max = checked.region_max
    region_max[rkey] = top if rkey not in region_max else np.maximum(region_max[rkey], top)
    if any(a.shapes is None for a in entry.annotations) and checked.counts[k] > 1:
        problems.error(f"{entry.where}: masks given for {entry.rel}, which has {checked.counts[k]} frames; "
                       "add a frame_index column selecting the annotated frame")
    for ann in entry.annotations:
        if ann.shapes is not None and ann.source_frame not in src.indices:
            continue
        raw = load_annotation(ann, src.frames.shape[1:3], problems)
        if raw is not None and ann.table is None and ann.shapes is None and np.isfinite(raw).any():
            checked.ann_max.append((ann.where, float(np.nanmax(raw))))
    checked.ids[k] = _frame_ids(entry, src, checked, problems)


def _frame_ids(entry: ManifestEntry, src: SourceFrames, checked: _Checked,
               problems: Problems) -> list[tuple[str, int]]:
    """``(frame ID, frame index)`` of each kept frame of ``entry``; duplicate IDs are errors."""
    ids = []
    for idx in src.indices.tolist():
        if entry.kind == "image" and src.frames.shape[0] == 1:
            fi = entry.frame_index if entry.frame_index is not None else checked.clip_next.get(entry.clip_id, 0)
        else:
            fi = int(idx)
        checked.clip_next[entry.clip_id] = max(checked.clip_next.get(entry.clip_id, 0), fi + 1)
        fid = f"{entry.clip_id}#{fi}"
        if fid in checked.frame_ids:
            problems.error(f"{entry.where}: duplicate frame ID {fid!r} (also from {checked.frame_ids[fid]}); "
                           "give the files distinct clip_id or frame_index values")
        checked.frame_ids[fid] = entry.where
        ids.append((fid, fi))
    return ids


def _confidence_scale_used(confidence_scale: str, ann_max: list[tuple[str, float]], problems: Problems) -> str:
    """The scale the masks are read with; masks whose values exceed it are errors."""
    scale = choose_scale(confidence_scale, max((m for _, m in ann_max), default=0.0), problems)
    limit = {"percent": 100.0, "byte": 255.0, "binary": 1.0}[scale]
    for where, top in ann_max:
        if top > limit:
            fix = ("pass --confidence-scale byte if the masks are 0-255" if scale == "percent"
                   else "masks must hold 8-bit values (0-255)")
            problems.error(f"{where}: confidence values go up to {top:g}, above {limit:g} "
                           f"(--confidence-scale {confidence_scale}, read as {scale}); {fix}")
    return scale


def _exam_table(entries: list[ManifestEntry], problems: Problems) -> pd.DataFrame:
    """``exam_id, patient_id`` of every exam, in manifest order; an exam with two patients is an error."""
    patient_of: dict[str, ManifestEntry] = {}
    for entry in entries:
        first = patient_of.setdefault(entry.exam_id, entry)
        if first.patient_id != entry.patient_id:
            problems.error(f"{entry.where}: exam {entry.exam_id!r} belongs to patient {first.patient_id!r} in "
                           f"{first.where} but to {entry.patient_id!r} here; one exam has one patient")
    return (pd.DataFrame([(e.exam_id, e.patient_id) for e in entries], columns=["exam_id", "patient_id"])
            .drop_duplicates("exam_id", keep="first").reset_index(drop=True))


def _write_frames(writer: CohortWriter, entries: list[ManifestEntry], checked: _Checked, regions: dict,
                  annotators: list[str], *, size: int, every: int, deidentify: bool, scale: str,
                  progress: bool) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Pass 2 of :func:`ingest`: preprocess every source's frames and masks and write them.

    Returns
    -------
    (list of dict, dict)
        The frame-table rows, and the DICOM header kept of each source that has one.
    """
    rows: list[dict[str, Any]] = []
    headers: dict[str, Any] = {}
    start = 0
    for k, entry in enumerate(_progress(entries, progress, "ingesting")):
        src = checked.cache.pop(k, None) or _read(entry, every, deidentify)
        if src.header:
            headers[entry.rel] = src.header
        region = regions[checked.region_of[k]]
        images, recs = _preprocess_frames(src, region, size)
        rows += _frame_rows(entry, src, region, recs, checked.ids[k], start)
        conf = _confidence(entry, src, region, size, annotators, scale)
        writer.write(start, images, conf)
        start += src.frames.shape[0]
    return rows, headers


def _preprocess_frames(src: SourceFrames, region: Any, size: int) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """The preprocessed frames ``(F, size, size) uint8`` of a source and each frame's record."""
    images = np.zeros((src.frames.shape[0], size, size), np.uint8)
    recs = []
    for j in range(src.frames.shape[0]):
        images[j], rec = preprocess_frame(src.frames[j], region, size)
        recs.append(rec)
    return images, recs


def _frame_rows(entry: ManifestEntry, src: SourceFrames, region: Any, recs: list[dict[str, Any]],
                ids: list[tuple[str, int]], start: int) -> list[dict[str, Any]]:
    """Frame-table rows of a source's frames (array positions from ``start``)."""
    spacing = entry.pixel_spacing_mm if math.isfinite(entry.pixel_spacing_mm) else src.spacing_mm
    spacing_source = "manifest" if math.isfinite(entry.pixel_spacing_mm) else src.spacing_source
    rows = []
    for j, rec in enumerate(recs):
        fid, fi = ids[j]
        rows.append({
            "frame_id": fid, "patient_id": entry.patient_id, "exam_id": entry.exam_id,
            "zone": entry.zone, "clip_id": entry.clip_id, "frame_index": fi,
            "array_index": start + j,
            "probe": entry.probe or ("convex" if region.kind == "sector" else "linear"),
            "pixel_spacing_mm": spacing / rec["scale"] if math.isfinite(spacing) else np.nan,
            "source_path": entry.rel, "source_kind": src.kind, "source_frame": int(src.indices[j]),
            **{c: rec[c] for c in ("orig_height", "orig_width", "crop_y0", "crop_y1", "crop_x0",
                                   "crop_x1", "pad_top", "pad_left", "scale")},
            "orig_pixel_spacing_mm": spacing, "spacing_source": spacing_source,
            "region_kind": region.kind, "region_fraction": region.fraction,
            "colour_pixels": rec["colour_pixels"],
            "probe_source": "manifest" if entry.probe else "detected",
        })
    return rows


def _confidence(entry: ManifestEntry, src: SourceFrames, region: Any, size: int, annotators: list[str],
                scale: str) -> np.ndarray:
    """The confidence ``(F, A, C, size, size) uint8`` of a source's frames from its annotations."""
    conf = np.zeros((src.frames.shape[0], max(1, len(annotators)), len(CLASS_NAMES), size, size), np.uint8)
    if not entry.annotations:
        return conf
    geo = geometry(region, size)
    for ann in entry.annotations:
        j = _frame_position(ann, src)
        if j is None:
            continue
        raw = load_annotation(ann, src.frames.shape[1:3], Problems())
        pct = to_percent(raw, "percent" if ann.table is not None or ann.shapes is not None else scale)
        a = annotators.index(ann.annotator)
        for c in range(len(CLASS_NAMES)):
            plane = apply_geometry(pct[c], region, geo, size, smooth=False)
            conf[j, a, c] = np.clip(np.rint(plane), 0, 100).astype(np.uint8)
    return conf


def _cohort_meta(manifest: Path, table: Any, clinical: str | os.PathLike | None, hashes: list[tuple[str, str]],
                 annotators: list[str], options: dict[str, Any], problems: Problems, ann_files: list,
                 ann_options: AnnotationOptions, id_pattern: str | None,
                 headers: dict[str, Any]) -> dict[str, Any]:
    """The ``source``, ``annotators`` and ``ingest`` entries of the ingested cohort's metadata.

    ``table`` is the manifest generated from annotation files (``None`` when a manifest
    file was given).
    """
    return {
        "source": {
            "kind": "ingested",
            "manifest": str(manifest.resolve()) if table is None else None,
            "manifest_fingerprint": file_digest(manifest) if table is None else None,
            "clinical": str(Path(clinical).resolve()) if clinical is not None else None,
            "clinical_fingerprint": file_digest(Path(clinical)) if clinical is not None else None,
            "sources_fingerprint": fingerprint(sorted(hashes)),  # contents of frames and masks
        },
        "annotators": annotators or ["none"],
        "ingest": {
            "options": options,
            "versions": _versions(),
            "warnings": problems.warnings,
            "notes": problems.notes,
            "preprocessing_columns": list(PREPROCESSING_COLUMNS),
            "annotation_files": [{"path": str(f.path.resolve()), "format": f.format, "annotator": f.annotator,
                                  "shapes": len(f.shapes)} for f in ann_files],
            "annotation_options": ann_options.as_dict(),
            "id_pattern": id_pattern if table is not None else None,
            "dicom_headers": headers,
        },
    }

def _digest(path: Path) -> str:
    if path.is_file():
        return file_digest(path)
    return fingerprint(sorted((str(p.relative_to(path)), file_digest(p)) for p in path.rglob("*.json")))


def _frame_position(ann, src: SourceFrames) -> int | None:
    """Row of ``src.frames`` an annotation belongs to (masks: the only frame)."""
    if ann.shapes is None or src.frames.shape[0] == 1 and ann.source_frame in (None, int(src.indices[0])):
        return 0
    hit = np.flatnonzero(src.indices == ann.source_frame)
    return int(hit[0]) if hit.size else None


def _check_unannotated(entries: list[ManifestEntry], problems: Problems) -> None:
    """Warn when some sources carry masks or shapes and others none: the others would be
    stored as labelled with no findings, which is right only if someone looked at them."""
    bare = [e for e in entries if not e.annotations]
    if bare and len(bare) < len(entries):
        shown = ", ".join(e.where for e in bare[:3]) + (", ..." if len(bare) > 3 else "")
        problems.warn(f"{len(bare)} of {len(entries)} sources carry no masks or annotations ({shown}); they are "
                      "stored as labelled with no findings (all background); if nobody annotated them, ingest "
                      "them as a cohort of their own")


def _check_frames(entry: ManifestEntry, src: SourceFrames, every: int, problems: Problems) -> None:
    """Shapes on frames past the end of their source, or on frames ``--every`` drops."""
    last = int(src.indices[-1]) + (every - 1 if entry.frame_index is None else 0)
    for ann in entry.annotations:
        if ann.shapes is None or ann.source_frame in src.indices:
            continue
        if ann.source_frame > last:
            problems.error(f"{ann.where}: {len(ann.shapes)} shape(s) on frame {ann.source_frame}, past the end of "
                           f"{entry.rel} (frames 0..{last}); check the task's start frame and step or the video")
        else:
            problems.warn(f"{ann.where}: frame {ann.source_frame} is not kept with --every {every}; its "
                          f"{len(ann.shapes)} shape(s) are dropped (pass --every 1 or the task's step)")


def _progress(items: list, show: bool, label: str):
    if not show:
        yield from items
        return
    with progress_bar(transient=True) as bar:
        task = bar.add_task(label, total=len(items))
        for item in items:
            yield item
            bar.advance(task)
