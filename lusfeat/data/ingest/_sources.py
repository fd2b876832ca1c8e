"""A manifest made from annotation files alone: their images and videos, IDs from file names.

``lusfeat ingest --annotations PATH OUT`` without ``--manifest`` ingests every image or
video an annotation file refers to, found beside the file: next to it, in its
``images/`` folder (CVAT and COCO dataset exports) or in a backup's ``data/`` folder;
LabelMe's ``imagePath`` is relative to its JSON file. Patient, exam and zone come from
``--id-pattern``, a regular expression searched in the source's name with the named
groups ``patient_id`` and ``zone`` (and optionally ``exam_id``, default the patient, and
``clip_id``); without it each source is its own patient and exam with zone ``unknown``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ..._errors import InputError
from ..annotations import read_annotations
from ..annotations._file import AnnotationFile
from ._annotations import AnnotationSpec
from ._problems import Problems

__all__ = ["ID_GROUPS", "manifest_from_annotations"]

#: Named groups ``--id-pattern`` may use.
ID_GROUPS = ("patient_id", "exam_id", "zone", "clip_id")


def _pattern(text: str | None) -> re.Pattern | None:
    if text is None:
        return None
    try:
        pat = re.compile(text)
    except re.error as exc:
        raise InputError(f"--id-pattern {text!r} is not a regular expression ({exc})") from None
    groups = set(pat.groupindex)
    if not {"patient_id", "zone"} <= groups or groups - set(ID_GROUPS):
        raise InputError(f"--id-pattern {text!r}: use the named groups (?P<patient_id>...) and (?P<zone>...), "
                         f"optionally exam_id and clip_id; e.g. '(?P<patient_id>P\\d+)_(?P<exam_id>E\\d+)_(?P<zone>[RL]\\d+)'")
    return pat


def _locate(f: AnnotationFile, name: str) -> Path | None:
    home = f.path if f.path.is_dir() else f.path.parent
    for cand in (home / name, home / "images" / name, home / "data" / name):
        if name and cand.is_file():
            return cand
    return None


def _ids(name: str, pattern: re.Pattern | None) -> dict[str, str] | None:
    stem = Path(name).stem
    if pattern is None:
        return {"patient_id": stem, "exam_id": stem, "zone": "unknown"}
    m = pattern.search(name)
    if m is None:
        return None
    ids = {k: v for k, v in m.groupdict().items() if v}
    ids.setdefault("exam_id", ids["patient_id"])
    return ids


def manifest_from_annotations(specs: Sequence[AnnotationSpec], id_pattern: str | None,
                              problems: Problems) -> tuple[Path, pd.DataFrame]:
    """Manifest rows for every source of the annotation files (see the module docstring).

    Returns
    -------
    where : Path
        A name for messages (``FIRST_FILE (sources)``) whose folder is the base of
        relative source paths.
    table : pandas.DataFrame
        ``path, patient_id, exam_id, zone, clip_id, annotations, annotation_format,
        annotator``, one row per (source, annotation file).
    """
    pattern = _pattern(id_pattern)
    if not specs:
        raise InputError("give --manifest M.csv, or --annotations PATH to ingest the files it annotates")
    rows = []
    for path, fmt, who, where in specs:
        quiet = Problems()  # the files' own problems are reported when they are attached
        try:
            files = read_annotations(path, fmt, quiet, annotator=who)
        except InputError as exc:
            problems.error(f"{where}: {exc}")
            continue
        if not any(f.sources for f in files):  # unreadable: nothing would report it later
            for message in quiet.errors:
                problems.error(message)
        for f in files:
            for name in f.sources:
                src = _locate(f, name)
                if src is None:
                    problems.error(f"{where}: cannot find {name or 'the video'!r} of {f.path.name} beside it "
                                   "(its folder, images/ or data/); unpack the export, or give a --manifest")
                    continue
                ids = _ids(name, pattern)
                if ids is None:
                    problems.error(f"{where}: {name!r} does not match --id-pattern {id_pattern!r}; "
                                   "fix the pattern or give a --manifest")
                    continue
                rows.append({"path": str(src.resolve()), **dict.fromkeys(ID_GROUPS, ""), **ids, "annotations": str(Path(path).resolve()),
                             "annotation_format": fmt, "annotator": who or ""})
    table = pd.DataFrame(rows, columns=["path", *ID_GROUPS, "annotations", "annotation_format", "annotator"])
    table = table.drop_duplicates(["path", "annotations", "annotator"]).astype(str)
    first = Path(specs[0][0]).resolve()
    return (first if first.is_dir() else first.parent) / f"{first.name} (sources)", table
