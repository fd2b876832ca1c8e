"""CVAT readers: "CVAT for images 1.1" and "CVAT for video 1.1" XML, and task backups.

XML (``docs.cvat.ai``, XML annotation format 1.1): ``<annotations>`` holds ``<meta>``
(``<task>`` or ``<job>`` with ``size``, ``start_frame``, ``stop_frame``,
``frame_filter`` such as ``step=5``, ``original_size``, ``owner``/``assignee``), then
``<image id name width height>`` elements with shapes (images) or ``<track id label>``
elements whose shapes carry ``frame``, ``outside`` and ``keyframe`` (video). Shapes:
``box`` (``xtl ytl xbr ybr rotation``), ``polygon``/``polyline``/``points``
(``points="x,y;x,y"``), ``ellipse`` (``cx cy rx ry rotation``), ``mask`` (``rle`` over the
box ``left top width height``, row-major, zeros first), each with ``<attribute name>``
children.

Backup: a folder (or ``.zip``) with ``task.json`` (``data.start_frame``, ``stop_frame``,
``frame_filter``), ``annotations.json`` (a list of job annotations with ``shapes`` and
``tracks``; shapes have ``type`` ``rectangle|polygon|polyline|points|ellipse|mask``, flat
``points``, ``frame``, ``attributes`` of ``{spec, value}``) and ``data/`` with the video or
images (``data/manifest.jsonl`` giving their order).

Frame numbers in CVAT files count the task's frames (0-based, after its start frame and
step); the source frame is ``start_frame + frame * step``.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._file import AnnotationFile, SourceInfo, TrackKey, as_points, interpolate_track
from ._rle import cvat_rle_decode
from ._shapes import Shape, ShapeKind

if TYPE_CHECKING:  # the ingest package imports this one
    from ..ingest._problems import Problems

__all__ = ["read_cvat_xml", "read_cvat_backup"]

_XML_KINDS = {"box": ShapeKind.BOX, "polygon": ShapeKind.POLYGON, "polyline": ShapeKind.POLYLINE,
              "points": ShapeKind.POINTS, "ellipse": ShapeKind.ELLIPSE, "mask": ShapeKind.MASK}
_JSON_KINDS = {"rectangle": ShapeKind.BOX, "polygon": ShapeKind.POLYGON, "polyline": ShapeKind.POLYLINE,
               "points": ShapeKind.POINTS, "ellipse": ShapeKind.ELLIPSE, "mask": ShapeKind.MASK}


def _step(frame_filter: str | None) -> int:
    m = re.search(r"step\s*=\s*(\d+)", frame_filter or "")
    return max(1, int(m[1])) if m else 1


def _text(node: ET.Element | None, path: str) -> str | None:
    if node is None:
        return None
    found = node.find(path)
    return found.text.strip() if found is not None and found.text and found.text.strip() else None


def _xml_geometry(el: ET.Element, kind: ShapeKind, size: tuple[int, int] | None) -> dict[str, Any]:
    a = el.attrib
    if kind is ShapeKind.BOX:
        pts = [[float(a["xtl"]), float(a["ytl"])], [float(a["xbr"]), float(a["ybr"])]]
        return {"points": pts, "rotation": float(a.get("rotation", 0) or 0)}
    if kind is ShapeKind.ELLIPSE:
        return {"points": [[float(a["cx"]), float(a["cy"])], [float(a["rx"]), float(a["ry"])]],
                "rotation": float(a.get("rotation", 0) or 0)}
    if kind is ShapeKind.MASK:
        if size is None:
            raise ValueError("a mask needs the frame size (image width/height or original_size)")
        counts = [int(float(v)) for v in a["rle"].replace(" ", "").split(",") if v != ""]
        mask = cvat_rle_decode(counts, int(float(a["left"])), int(float(a["top"])),
                               int(float(a["width"])), int(float(a["height"])), size)
        return {"mask": mask}
    pts = [[float(v) for v in p.split(",")] for p in a["points"].split(";") if p.strip()]
    if any(len(p) != 2 for p in pts):
        raise ValueError("points must be 'x,y;x,y;...'")
    return {"points": pts, "width": float(a["width"]) if "width" in a else None}


def _xml_shape(el: ET.Element, label: str, source: str, frame: int, annotator: str, where: str,
               size: tuple[int, int] | None) -> Shape:
    kind = _XML_KINDS[el.tag]
    attrs = {at.get("name", ""): (at.text or "").strip() for at in el.findall("attribute")}
    geo = _xml_geometry(el, kind, size)
    return Shape(kind=kind, label=label, source=source, frame=frame, annotator=annotator, where=where,
                 attributes=attrs, image_size=size, **geo)


def _xml_meta(root: ET.Element) -> dict[str, Any]:
    meta = root.find("meta")
    task = None if meta is None else (meta.find("task") if meta.find("task") is not None else meta.find("job"))
    size = None
    h, w = _text(task, "original_size/height"), _text(task, "original_size/width")
    if h and w:
        size = (int(h), int(w))
    user = _text(task, "assignee/username") or _text(task, "owner/username")
    n = _text(task, "size")
    return {"start": int(_text(task, "start_frame") or 0), "step": _step(_text(task, "frame_filter")),
            "size": size, "user": user, "n": int(n) if n else None,
            "stop": int(_text(task, "stop_frame")) if _text(task, "stop_frame") else None,
            "source": _text(task, "source") or ""}


def read_cvat_xml(path: Path, problems: Problems, annotator: str | None = None) -> AnnotationFile:
    """Read a "CVAT for images 1.1" or "CVAT for video 1.1" XML file.

    Parameters
    ----------
    path : Path
    problems : Problems
        Receives one error per malformed shape (naming the file and shape) and per
        unreadable file.
    annotator : str, optional
        Annotator of every shape; default: the task's assignee or owner, else the file stem.

    Returns
    -------
    AnnotationFile
    """
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        problems.error(f"{path}: not readable CVAT XML ({exc}); export it again as 'CVAT for images 1.1' "
                       "or 'CVAT for video 1.1'")
        return AnnotationFile(path, "cvat", annotator or path.stem)
    if root.tag != "annotations":
        problems.error(f"{path}: root element is <{root.tag}>, not <annotations>; this is not a CVAT 1.1 XML export")
        return AnnotationFile(path, "cvat", annotator or path.stem)
    meta = _xml_meta(root)
    out = AnnotationFile(path, "cvat", annotator or meta["user"] or path.stem)
    skipped: dict[str, int] = {}
    for image in root.findall("image"):
        name = image.get("name", "")
        try:
            size = (int(image.get("height")), int(image.get("width")))
        except (TypeError, ValueError):
            size = None
        out.sources.setdefault(name, SourceInfo(name, size, 1))
        for k, el in enumerate(image):
            if el.tag not in _XML_KINDS:
                skipped[el.tag] = skipped.get(el.tag, 0) + 1
                continue
            where = f"{path.name} image {name!r} {el.tag} {k + 1}"
            try:
                out.shapes.append(_xml_shape(el, el.get("label", ""), name, 0, out.annotator, where, size))
            except (KeyError, ValueError) as exc:
                problems.error(f"{where}: malformed {el.tag} ({_why(exc)}); fix or delete the shape in CVAT and export again")
    tracks = root.findall("track")
    if tracks:
        _read_xml_tracks(path, tracks, meta, out, problems, skipped)
    out.notes += [f"{path.name}: {n} <{tag}> element(s) not used (no mask meaning)" for tag, n in skipped.items()]
    return out


def _why(exc: Exception) -> str:
    return f"missing attribute {exc}" if isinstance(exc, KeyError) else str(exc)


def _read_xml_tracks(path: Path, tracks: list[ET.Element], meta: dict, out: AnnotationFile,
                     problems: Problems, skipped: dict[str, int]) -> None:
    source = meta["source"]
    n_task = meta["n"] if meta["n"] is not None else (
        (meta["stop"] - meta["start"]) // meta["step"] + 1 if meta["stop"] is not None else None)
    out.sources.setdefault(source, SourceInfo(source, meta["size"], n_task))
    last = max([int(el.get("frame", 0)) for t in tracks for el in t] + [0]) if n_task is None else n_task - 1
    frame_of = lambda f: (source, meta["start"] + f * meta["step"])  # noqa: E731
    for track in tracks:
        tid, label = track.get("id", "?"), track.get("label", "")
        keys: list[TrackKey] = []
        for el in track:
            if el.tag not in _XML_KINDS:
                skipped[el.tag] = skipped.get(el.tag, 0) + 1
                continue
            where = f"{path.name} track {tid} {el.tag} frame {el.get('frame')}"
            try:
                frame = int(el.attrib["frame"])
                if frame < 0:
                    raise ValueError(f"frame {frame} is negative")
                if n_task is not None and frame >= n_task:
                    raise ValueError(f"frame {frame} is past the task's last frame {n_task - 1}")
                shape = _xml_shape(el, label, source, frame_of(frame)[1], out.annotator, where, meta["size"])
            except (KeyError, ValueError) as exc:
                problems.error(f"{where}: malformed {el.tag} ({_why(exc)}); fix the track in CVAT and export again")
                continue
            keys.append(TrackKey(frame, shape, el.get("outside", "0") in ("1", "true", "True")))
        out.shapes += interpolate_track(keys, last, frame_of, f"{path.name} track {tid}")


# ---- task backups ----------------------------------------------------------------------

def _backup_files(path: Path) -> dict[str, bytes]:
    """``task.json``, ``annotations.json`` and ``data/manifest.jsonl`` of a backup."""
    want = ("task.json", "annotations.json", "data/manifest.jsonl")
    if path.is_dir():
        return {w: (path / w).read_bytes() for w in want if (path / w).is_file()}
    with zipfile.ZipFile(path) as z:
        names = {n.split("/", 1)[-1] if n.count("/") and not n.startswith("data/") else n: n for n in z.namelist()}
        return {w: z.read(names[w]) for w in want if w in names}


def _backup_sources(path: Path, files: dict[str, bytes]) -> list[SourceInfo]:
    """The task's frames in order: one video, or one entry per image."""
    lines = [json.loads(x) for x in files.get("data/manifest.jsonl", b"").decode().splitlines() if x.strip()]
    for line in lines:
        props = line.get("properties")
        if isinstance(props, dict) and "name" in props:
            res = props.get("resolution")
            size = (int(res[1]), int(res[0])) if res else None
            return [SourceInfo(str(props["name"]), size, props.get("length"))]
    images = [SourceInfo(f"{x['name']}{x.get('extension', '')}",
                         (int(x["height"]), int(x["width"])) if "height" in x else None, 1)
              for x in lines if "name" in x]
    if images or not path.is_dir():
        return images
    data = path / "data"
    found = sorted(p.name for p in data.iterdir() if p.is_file() and p.suffix.lower() not in (".json", ".jsonl"))
    return [SourceInfo(n) for n in found]


def read_cvat_backup(path: Path, problems: Problems, annotator: str | None = None) -> AnnotationFile:
    """Read a CVAT task backup (folder or ``.zip``): shapes and tracks of every job.

    Parameters, Returns: as :func:`read_cvat_xml`. Without ``annotator``, the shapes of
    job ``j`` (the ``j``-th entry of ``annotations.json``) belong to that job's assignee in
    ``task.json`` (``jobs[j].assignee``), else to the backup's name.
    """
    try:
        files = _backup_files(path)
        task = json.loads(files["task.json"])
        jobs = json.loads(files["annotations.json"])
        sources = _backup_sources(path, files)
    except KeyError as exc:
        problems.error(f"{path}: CVAT backup lacks {exc}; export the task again with 'Backup Task'")
        return AnnotationFile(path, "cvat-backup", annotator or path.stem)
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        problems.error(f"{path}: not a readable CVAT backup ({type(exc).__name__}: {exc}); export the task again")
        return AnnotationFile(path, "cvat-backup", annotator or path.stem)
    data = task.get("data", {}) if isinstance(task, dict) else {}
    start, step = int(data.get("start_frame", 0) or 0), _step(data.get("frame_filter"))
    job_users = [((j.get("assignee") or {}) if isinstance(j.get("assignee"), dict) else {"username": j.get("assignee")})
                 .get("username") for j in task.get("jobs", []) if isinstance(j, dict)]
    user = annotator or next((u for u in job_users if u), None) or path.stem
    out = AnnotationFile(path, "cvat-backup", user)
    video = len(sources) == 1 and (sources[0].n_frames or 0) > 1
    stop = data.get("stop_frame")
    n_task = (int(stop) - start) // step + 1 if video and stop is not None else (len(sources) if not video else None)
    for s in sources:
        out.sources[s.name] = SourceInfo(s.name, s.size, n_task if video else 1)

    def locate(frame: int) -> tuple[str, int, tuple[int, int] | None]:
        if frame < 0 or (n_task is not None and frame >= n_task):
            raise ValueError(f"frame {frame} is outside the task's frames 0..{(n_task or 0) - 1}")
        if video:
            return sources[0].name, start + frame * step, sources[0].size
        return sources[frame].name, 0, sources[frame].size

    for j, job in enumerate(jobs if isinstance(jobs, list) else [jobs]):
        who = annotator or (job_users[j] if j < len(job_users) and job_users[j] else None) or out.annotator
        _backup_job(path, j, job, locate, n_task, out, problems, who)
    return out


def _json_shape(d: dict, label: str, locate, annotator: str, where: str) -> Shape:
    kind = _JSON_KINDS[d["type"]]
    source, frame, size = locate(int(d["frame"]))
    pts = [float(v) for v in d.get("points", [])]
    attrs = {str(a.get("spec", a.get("name", a.get("spec_id")))): a.get("value") for a in d.get("attributes", [])}
    geo: dict[str, Any] = {"rotation": float(d.get("rotation", 0) or 0)}
    if kind is ShapeKind.MASK:
        if size is None:
            raise ValueError("a mask needs the frame size (data/manifest.jsonl)")
        *rle, left, top, right, bottom = (int(v) for v in pts)
        geo["mask"] = cvat_rle_decode(rle, left, top, right - left + 1, bottom - top + 1, size)
    elif kind is ShapeKind.ELLIPSE:
        cx, cy, x2, y2 = pts[:4]
        geo["points"] = [[cx, cy], [abs(x2 - cx), abs(cy - y2)]]
    else:
        geo["points"] = as_points(pts)
    return Shape(kind=kind, label=label, source=source, frame=frame, annotator=annotator, where=where,
                 attributes=attrs, image_size=size, **geo)


def _label_of(d: dict) -> str:
    return str(d.get("label", d.get("label_id", "")))


def _backup_job(path: Path, j: int, job: dict, locate, n_task: int | None, out: AnnotationFile,
                problems: Problems, who: str) -> None:
    for k, d in enumerate(job.get("shapes", [])):
        where = f"{path.name} job {j + 1} shape {k + 1} ({d.get('type')}, frame {d.get('frame')})"
        if d.get("type") not in _JSON_KINDS:
            out.notes.append(f"{where}: type {d.get('type')!r} not used")
            continue
        try:
            out.shapes.append(_json_shape(d, _label_of(d), locate, who, where))
        except (KeyError, ValueError, TypeError) as exc:
            problems.error(f"{where}: malformed shape ({_why(exc)}); fix it in CVAT and back the task up again")
    for k, t in enumerate(job.get("tracks", [])):
        label, keys = _label_of(t), []
        tw = f"{path.name} job {j + 1} track {k + 1}"
        for d in t.get("shapes", []):
            where = f"{tw} frame {d.get('frame')}"
            try:
                d = {**d, "frame": int(d["frame"])}
                shape = _json_shape(d, label, locate, who, where)
            except (KeyError, ValueError, TypeError) as exc:
                problems.error(f"{where}: malformed track shape ({_why(exc)}); fix it in CVAT and back the task up again")
                continue
            keys.append(TrackKey(d["frame"], shape, bool(d.get("outside", False))))
        last = (n_task - 1) if n_task is not None else max([k.frame for k in keys] + [0])
        frame_of = lambda f: locate(f)[:2]  # noqa: E731
        out.shapes += interpolate_track(keys, last, frame_of, tw)
