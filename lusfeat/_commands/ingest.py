"""``lusfeat ingest``: real scans, masks and a clinical table into a cohort."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .._errors import InputError
from ..data.annotations._read import AnnotationFormat
from ..data.ingest._confidence import ConfidenceScale


def _parse_map(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        target, sep, source = item.partition("=")
        if not sep or not target.strip() or not source.strip():
            raise InputError(f"--map {item!r}: expected LUSFEAT_COLUMN=FILE_COLUMN, e.g. --map spo2=SpO2_percent")
        out[target.strip()] = source.strip()
    return out


def ingest_command(
    out: Annotated[Path, typer.Argument(help="Cohort folder to create, e.g. study/cohort.")],
    manifest: Annotated[Path | None, typer.Option("--manifest", "-m", help="Manifest CSV: path, patient_id, exam_id, zone [, clip_id, frame_index, pixel_spacing_mm, probe, annotator, mask_path, mask_<class>, confidence_table, annotations]. Optional with --annotations.")] = None,
    clinical: Annotated[Path | None, typer.Option("--clinical", "-c", help="Clinical table (CSV or .xlsx), one row per exam.")] = None,
    size: Annotated[int, typer.Option(help="Side of the stored square frames in pixels (the model's input size).")] = 256,
    every: Annotated[int, typer.Option(help="Keep every N-th frame of videos and multi-frame DICOM.")] = 1,
    confidence_scale: Annotated[ConfidenceScale, typer.Option(help="Mask values: auto (detect), percent (0-100) or byte (0-255).")] = ConfidenceScale.AUTO,
    column_map: Annotated[list[str] | None, typer.Option("--map", help="Clinical column mapping LUSFEAT=FILE, repeatable, e.g. --map spo2=SpO2.")] = None,
    na_code: Annotated[list[str] | None, typer.Option("--na-code", help="Missing-value code in the clinical table, repeatable, e.g. --na-code -99.")] = None,
    flow_to_fio2: Annotated[bool, typer.Option("--flow-to-fio2", help="Estimate missing FiO2 from O2 flow: 0.21 + 0.04 x L/min (up to 6 L/min).")] = False,
    sheet: Annotated[str | None, typer.Option(help="Excel sheet of the clinical table (default: first).")] = None,
    deidentify: Annotated[bool, typer.Option("--deidentify/--keep-identifiers", help="Copy only technical DICOM tags (default).")] = True,
    strict: Annotated[bool, typer.Option("--strict", help="Treat warnings as errors.")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing OUT.")] = False,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")] = True,
    annotations: Annotated[list[str] | None, typer.Option("--annotations", "-a", help="Annotation-tool export [ANNOTATOR=]PATH, repeatable (one per annotator): CVAT XML or backup, COCO JSON, LabelMe JSON or folder; shapes are matched to the manifest's files by name.")] = None,
    format: Annotated[AnnotationFormat, typer.Option("--format", help="Format of --annotations: auto (detect), cvat (images or video XML 1.1), cvat-images, cvat-video, cvat-backup, coco, labelme.")] = AnnotationFormat.AUTO,
    label_map: Annotated[list[str] | None, typer.Option("--label-map", help="Tool label to lusfeat class TOOL=CLASS (or '-' to skip), repeatable, or a YAML/JSON file, e.g. --label-map aline=a_line.")] = None,
    confidence_attribute: Annotated[str, typer.Option(help="Shape attribute holding the confidence in percent ('' reads none).")] = "confidence",
    default_confidence: Annotated[float, typer.Option(help="Confidence (percent) of shapes with no attribute, label suffix (b_line_70) or score.")] = 100.0,
    line_width: Annotated[float, typer.Option(help="Width in original pixels of polylines (and points) that state none.")] = 3.0,
    id_pattern: Annotated[str | None, typer.Option(help="Without --manifest: regex with named groups patient_id and zone (optional exam_id, clip_id) searched in each annotated file's name, e.g. '(?P<patient_id>P\\d+)_(?P<zone>[RL]\\d)'.")] = None,
) -> None:
    """Ingest real LUS images, DICOM or videos (+ confidence masks, + clinical table) into a cohort.

    Examples:

      lusfeat ingest --manifest scans.csv cohort

      lusfeat ingest --manifest scans.csv --clinical clinical.xlsx --map spo2=SpO2 --size 128 --strict cohort

      lusfeat ingest --manifest scans.csv --annotations alice=alice.xml --annotations bob=bob.xml --format cvat --label-map aline=a_line cohort

      lusfeat ingest --annotations task_backup.zip --format cvat-backup --id-pattern "(?P<patient_id>P[0-9]+)_(?P<zone>[RL][0-9])" cohort
    """
    from ..data.annotations import AnnotationOptions, parse_label_map
    from ..data.ingest import ingest
    from ..data.ingest._annotations import parse_annotation_specs

    if manifest is None and not annotations:
        raise typer.BadParameter("Missing option '--manifest': give a manifest CSV, or --annotations to ingest "
                                 "the files an annotation export refers to", param_hint="'--manifest'")
    options = AnnotationOptions(label_map=parse_label_map(label_map or []),
                                confidence_attribute=confidence_attribute.strip() or None,
                                default_confidence=default_confidence, line_width=line_width)

    path = ingest(
        manifest, out, clinical=clinical, size=size, every=every, confidence_scale=confidence_scale.value,
        column_map=_parse_map(column_map or []), na_codes=tuple(na_code or ()), flow_to_fio2=flow_to_fio2,
        sheet=sheet, deidentify=deidentify, strict=strict, overwrite=overwrite, progress=progress,
        annotations=parse_annotation_specs(annotations or [], format.value), annotation_options=options,
        id_pattern=id_pattern,
    )
    typer.echo(f"cohort written to {path}")


def register(app: typer.Typer) -> None:
    """Add the ``ingest`` command to the lusfeat app."""
    app.command("ingest")(ingest_command)
