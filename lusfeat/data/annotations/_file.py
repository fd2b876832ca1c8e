"""What every annotation reader returns: the shapes of one file and the sources they cover."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._shapes import Shape, ShapeKind

__all__ = ["SourceInfo", "AnnotationFile", "interpolate_track", "TrackKey"]


@dataclass
class SourceInfo:
    """An image or video an annotation file refers to.

    Attributes
    ----------
    name : str
        File name as the tool stores it (``""`` when the file does not say, e.g. a video
        task exported without its source name: the file then covers one source).
    size : (H, W) or None
        Frame size the file states.
    n_frames : int or None
        Number of frames of the source the task covers (videos), when known.
    """

    name: str
    size: tuple[int, int] | None = None
    n_frames: int | None = None


@dataclass
class AnnotationFile:
    """The shapes read from one annotation file (or CVAT backup).

    Attributes
    ----------
    path : Path
    format : str
    annotator : str
        Default annotator of the file's shapes (a shape may name its own).
    shapes : list of Shape
    sources : dict of str to SourceInfo
    notes : list of str
        Shapes read but not used (tags, cuboids), with counts.
    """

    path: Path
    format: str
    annotator: str
    shapes: list[Shape] = field(default_factory=list)
    sources: dict[str, SourceInfo] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass
class TrackKey:
    """One listed state of a track: its frame, the shape there and whether it is hidden."""

    frame: int
    shape: Shape
    outside: bool


def _blend(a: Shape, b: Shape, t: float, at: tuple[str, int], where: str) -> Shape:
    if a.kind is ShapeKind.MASK or a.kind is not b.kind or a.points.shape != b.points.shape:
        pts, rot = a.points, a.rotation  # held: shapes of different kind or vertex count
    else:
        pts = (1 - t) * a.points + t * b.points
        rot = (1 - t) * a.rotation + t * b.rotation
    return Shape(kind=a.kind, label=a.label, source=at[0], frame=at[1], annotator=a.annotator,
                 where=where, points=pts, rotation=rot, mask=a.mask, width=a.width,
                 attributes=dict(a.attributes), score=a.score, image_size=a.image_size)


def interpolate_track(keys: list[TrackKey], last_frame: int, frame_of, where: str) -> list[Shape]:
    """Shapes of a track on every frame it is visible.

    Parameters
    ----------
    keys : list of TrackKey
        The track's listed states (keyframes, and interpolated frames where the file
        lists them), any order.
    last_frame : int
        Last task frame: a track whose last state is visible lasts until it.
    frame_of : callable
        Task frame -> ``(source name, source frame)`` (the task's start frame and step).
    where : str
        Prefix naming the file and track in messages.

    Returns
    -------
    list of Shape
        Between two listed states the first one's coordinates are interpolated linearly
        (the shapes must have the same kind and number of vertices, else the first is
        held; masks are held); after an ``outside`` state the track is hidden until the
        next listed state.
    """
    keys = sorted(keys, key=lambda k: k.frame)
    out: list[Shape] = []
    for i, key in enumerate(keys):
        if key.outside:
            continue
        nxt = keys[i + 1] if i + 1 < len(keys) else None
        stop = nxt.frame if nxt is not None else last_frame + 1
        for f in range(key.frame, stop):
            t = 0.0 if nxt is None or nxt.outside else (f - key.frame) / (nxt.frame - key.frame)
            other = key.shape if nxt is None or nxt.outside else nxt.shape
            out.append(_blend(key.shape, other, t, frame_of(f), f"{where} frame {f}"))
    return out


def as_points(values: list[float]) -> np.ndarray:
    """``[x0, y0, x1, y1, ...]`` as a ``(K, 2)`` array."""
    v = np.asarray(values, np.float64)
    if v.size % 2:
        raise ValueError(f"{v.size} coordinates is an odd number; expected x, y pairs")
    return v.reshape(-1, 2)
