"""Read and check an ingest manifest (CSV): one row per source file (and annotator)."""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .._format import CLASS_NAMES
from ._problems import Problems
from ._readers import source_kind

__all__ = ["REQUIRED_COLUMNS", "OPTIONAL_COLUMNS", "Annotation", "ManifestEntry", "read_manifest"]

REQUIRED_COLUMNS = ("path", "patient_id", "exam_id", "zone")
OPTIONAL_COLUMNS = (
    "clip_id", "frame_index", "pixel_spacing_mm", "probe", "annotator", "mask_path", "confidence_table",
    "annotations", "annotation_format",
) + tuple(f"mask_{c}" for c in CLASS_NAMES)
PROBES = ("convex", "linear", "phased", "unknown")
#: Usual zone names (right/left, 1-6); others are accepted with a warning.
ZONE_PATTERN = re.compile(r"^[RL](?:[1-9]|1[0-2])$")


@dataclass
class Annotation:
    """The confidence masks of one annotator for one frame.

    Attributes
    ----------
    annotator : str
    where : str
        ``"M.csv line 5"``, for messages.
    class_paths : dict of str to Path
        One mask file per labelled class (``mask_<class>`` columns or a ``{class}`` template).
    stack_path : Path or None
        A ``mask_path`` holding all classes: ``.npy`` or multi-page TIFF ``(C, H, W)``.
    table : Path or None
        Per-region confidence table (``class, region, confidence``) for binary masks.
    shapes : list of (Shape, class, confidence) or None
        Shapes from an annotation tool (:mod:`lusfeat.data.annotations`), rasterised
        onto the source frame; their confidence is already in percent.
    source_frame : int or None
        Frame of a multi-frame source the shapes belong to (0-based, file numbering).
    line_width : float
        Width in pixels of polylines that state none.
    """

    annotator: str
    where: str
    class_paths: dict[str, Path] = field(default_factory=dict)
    stack_path: Path | None = None
    table: Path | None = None
    shapes: list | None = None
    source_frame: int | None = None
    line_width: float = 3.0


@dataclass
class ManifestEntry:
    """One source file (or one selected frame of it) and its annotations."""

    where: str
    path: Path
    rel: str
    kind: str
    patient_id: str
    exam_id: str
    zone: str
    clip_id: str
    frame_index: int | None
    pixel_spacing_mm: float
    probe: str | None
    annotations: list[Annotation] = field(default_factory=list)
    #: Annotation-tool files named on the entry's rows: ``(path, format, annotator, where)``.
    annotation_files: list[tuple[Path, str, str | None, str]] = field(default_factory=list)


def _text(v: object) -> str | None:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return None
    s = str(v).strip()
    return s or None


def _resolve(base: Path, value: str) -> Path:
    p = Path(os.path.expanduser(value))
    return p if p.is_absolute() else base / p


def read_manifest(path: str | os.PathLike, problems: Problems,
                  table: pd.DataFrame | None = None) -> tuple[list[ManifestEntry], list[str]]:
    """Parse a manifest, recording every problem instead of stopping at the first.

    Parameters
    ----------
    path : path-like
        CSV with the columns ``path, patient_id, exam_id, zone`` and optionally
        ``clip_id, frame_index, pixel_spacing_mm, probe, annotator, mask_path,
        confidence_table, mask_<class>`` (see ``docs/ingest.md``). Relative paths are
        relative to the manifest's folder.
    problems : Problems
        Receives errors and warnings.
    table : pandas.DataFrame, optional
        The manifest's rows as text, instead of reading ``path`` (which then only names
        the rows in messages and gives the folder of relative paths).

    Returns
    -------
    entries : list of ManifestEntry
        One per distinct source (file and selected frame), annotators merged.
    annotators : list of str
        Annotator names in order of first appearance.
    """
    path = Path(path)
    base = path.parent
    df = _manifest_table(path, table, problems)
    if df is None or not _check_columns(df, path, problems):
        return [], []
    entries: dict[tuple[str, int | None], ManifestEntry] = {}
    annotators: list[str] = []
    seen: set[tuple[str, int | None, str]] = set()
    for i, row in enumerate(df.to_dict("records")):
        where = f"{path.name} line {i + 2}"
        vals = {k: _text(v) for k, v in row.items()}
        source = _row_source(vals, base, where, problems)
        if source is None:
            continue
        src, kind, frame_index, spacing, probe = source
        key = (str(src.resolve()), frame_index)
        entry = entries.get(key)
        if entry is None:
            entry = entries[key] = _new_entry(vals, base, where, src, kind, frame_index, spacing, probe)
        else:
            _check_same_frame(vals, where, entry, problems)
        if vals.get("annotations") is not None:
            _annotation_file(vals, base, where, entry, problems)
            continue
        ann = _annotation(vals, base, where, problems)
        if ann is not None:
            _add_masks(ann, entry, key, where, seen, annotators, problems)
    return list(entries.values()), annotators


def _manifest_table(path: Path, table: pd.DataFrame | None, problems: Problems) -> pd.DataFrame | None:
    """The manifest's rows as text (``table`` itself when given); None, with an error, when unreadable."""
    try:
        df = table if table is not None else pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        problems.error(f"manifest {path} does not exist; check the --manifest path")
        return None
    except Exception as exc:
        problems.error(f"manifest {path} is not a readable CSV ({type(exc).__name__}: {exc}); save it as UTF-8 CSV with a header row")
        return None
    df.columns = [str(c).strip() for c in df.columns]
    return df


def _check_columns(df: pd.DataFrame, path: Path, problems: Problems) -> bool:
    """Whether the required columns are present; unknown mask classes are errors, unused columns warnings."""
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        problems.error(f"manifest {path.name} lacks the column(s) {missing}; required are {list(REQUIRED_COLUMNS)}")
        return False
    for col in df.columns:
        if col.startswith("mask_") and col != "mask_path" and col[5:] not in CLASS_NAMES:
            problems.error(
                f"manifest {path.name}: column {col!r} names unknown class {col[5:]!r}; "
                f"use mask_<class> with class one of {list(CLASS_NAMES)}"
            )
        elif col not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS and not col.startswith("mask_"):
            problems.warn(f"manifest {path.name}: column {col!r} is not used by ingest (ignored)")
    return True


def _row_source(vals: dict, base: Path, where: str,
                problems: Problems) -> tuple[Path, str, int | None, float, str | None] | None:
    """``(file, kind, frame_index, pixel spacing, probe)`` of one manifest row; None (with an error) if invalid."""
    bad = [c for c in REQUIRED_COLUMNS if vals.get(c) is None]
    if bad:
        problems.error(f"{where}: empty {', '.join(bad)}; fill in every required column")
        return None
    src = _resolve(base, vals["path"])
    if not src.is_file():
        problems.error(f"{where}: file {src} does not exist; fix the path (relative paths are relative to {base})")
        return None
    kind = source_kind(src)
    if kind == "unknown":
        problems.error(f"{where}: {src.name} has an unsupported type {src.suffix!r}; convert it to PNG, TIFF, DICOM or MP4")
        return None
    frame_index = None
    if vals.get("frame_index") is not None:
        try:
            as_float = float(vals["frame_index"])  # "7.0" from spreadsheets is fine
            if not as_float.is_integer() or as_float < 0:
                raise ValueError
            frame_index = int(as_float)
            if vals["frame_index"] != str(frame_index):
                problems.warn(f"{where}: frame_index {vals['frame_index']!r} read as {frame_index}; "
                              "write it as a plain whole number (no decimal point)")
        except ValueError:
            problems.error(f"{where}: frame_index {vals['frame_index']!r} is not a non-negative integer")
            return None
    spacing = math.nan
    if vals.get("pixel_spacing_mm") is not None:
        try:
            spacing = float(vals["pixel_spacing_mm"])
            if not spacing > 0:
                raise ValueError
        except ValueError:
            problems.error(f"{where}: pixel_spacing_mm {vals['pixel_spacing_mm']!r} is not a positive number (mm per pixel)")
            return None
    probe = vals.get("probe")
    if probe is not None and probe.lower() not in PROBES:
        problems.error(f"{where}: probe {probe!r} is not one of {list(PROBES)}")
        return None
    if not ZONE_PATTERN.match(vals["zone"]):
        problems.warn(f"{where}: zone {vals['zone']!r} is not of the form R1..R6 / L1..L6; check it")
    return src, kind, frame_index, spacing, probe


def _new_entry(vals: dict, base: Path, where: str, src: Path, kind: str, frame_index: int | None,
               spacing: float, probe: str | None) -> ManifestEntry:
    """The entry of a source first named on this row (clip ID by default from its relative path)."""
    rel = os.path.relpath(src, base)
    if rel.startswith(".."):  # outside the manifest's folder: keep it absolute
        rel = str(src.resolve())
    clip = vals.get("clip_id") or (
        src.stem if Path(rel).is_absolute() else str(Path(rel).with_suffix("")).replace(os.sep, "/")
    )
    return ManifestEntry(
        where=where, path=src, rel=rel.replace(os.sep, "/"), kind=kind,
        patient_id=vals["patient_id"], exam_id=vals["exam_id"], zone=vals["zone"],
        clip_id=clip, frame_index=frame_index, pixel_spacing_mm=spacing,
        probe=probe.lower() if probe else None,
    )


def _check_same_frame(vals: dict, where: str, entry: ManifestEntry, problems: Problems) -> None:
    """A further row of the same source must name the same patient, exam and zone."""
    for col in ("patient_id", "exam_id", "zone"):
        if vals[col] != getattr(entry, col):
            problems.error(
                f"{where}: {col} {vals[col]!r} differs from {entry.where} ({getattr(entry, col)!r}) "
                f"for the same frame {entry.rel}; make them agree"
            )


def _add_masks(ann: Annotation, entry: ManifestEntry, key: tuple[str, int | None], where: str,
               seen: set[tuple[str, int | None, str]], annotators: list[str], problems: Problems) -> None:
    """Attach a row's masks to its entry; a second row of one annotator for one frame is an error."""
    frame_index = key[1]
    if (key[0], key[1], ann.annotator) in seen:
        frame = entry.rel + (f" frame {frame_index}" if frame_index is not None else "")
        if ann.class_paths or ann.stack_path is not None:
            problems.error(f"{where}: annotator {ann.annotator!r} already labelled {frame}; remove the duplicate row")
        else:
            problems.error(f"{where}: {frame} is listed twice; remove the duplicate row")
        return
    seen.add((key[0], key[1], ann.annotator))
    if ann.class_paths or ann.stack_path is not None:
        if entry.kind != "image" and frame_index is None:
            problems.error(
                f"{where}: masks for the multi-frame file {entry.rel} need a frame_index "
                "(one row per annotated frame)"
            )
            return
        entry.annotations.append(ann)
        if ann.annotator not in annotators:
            annotators.append(ann.annotator)

def _annotation_file(vals: dict, base: Path, where: str, entry: ManifestEntry, problems: Problems) -> None:
    """Record the annotation-tool file named in a row's ``annotations`` column."""
    masks = [c for c in ("mask_path", "confidence_table", *(f"mask_{c}" for c in CLASS_NAMES)) if vals.get(c)]
    if masks:
        problems.error(f"{where}: give either an annotations file or mask columns ({', '.join(masks)}), "
                       "not both; put them on separate rows")
        return
    p = _resolve(base, vals["annotations"])
    if not p.exists():
        problems.error(f"{where}: annotation file {p} does not exist; fix the annotations column")
        return
    entry.annotation_files.append((p, vals.get("annotation_format") or "auto", vals.get("annotator"), where))


def _annotation(vals: dict, base: Path, where: str, problems: Problems) -> Annotation | None:
    ann = Annotation(annotator=vals.get("annotator") or "annotator_1", where=where)
    ok = True
    template = vals.get("mask_path")
    if template is not None:
        if "{class}" in template:
            for c in CLASS_NAMES:
                p = _resolve(base, template.replace("{class}", c))
                if p.is_file():
                    ann.class_paths[c] = p
            if not ann.class_paths:
                problems.error(f"{where}: no mask file matches {template!r} for any class {list(CLASS_NAMES)}; fix mask_path")
                ok = False
        else:
            p = _resolve(base, template)
            if not p.is_file():
                problems.error(f"{where}: mask file {p} does not exist; fix mask_path")
                ok = False
            ann.stack_path = p
    for c in CLASS_NAMES:
        v = vals.get(f"mask_{c}")
        if v is None:
            continue
        p = _resolve(base, v)
        if not p.is_file():
            problems.error(f"{where}: mask file {p} (column mask_{c}) does not exist; fix the path")
            ok = False
        ann.class_paths[c] = p
    table = vals.get("confidence_table")
    if table is not None:
        p = _resolve(base, table)
        if not p.is_file():
            problems.error(f"{where}: confidence table {p} does not exist; fix confidence_table")
            ok = False
        ann.table = p
    if ann.stack_path is not None and ann.class_paths:
        problems.error(f"{where}: give masks either as one mask_path stack or per class, not both")
        ok = False
    return ann if ok else None
