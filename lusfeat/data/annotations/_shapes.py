"""One shape drawn in an annotation tool, in the tool's pixel coordinates."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np

__all__ = ["ShapeKind", "Shape"]


class ShapeKind(StrEnum):
    """The geometric kinds every reader maps its shapes onto (a plain string works too)."""

    POLYGON = "polygon"
    POLYLINE = "polyline"
    BOX = "box"
    ELLIPSE = "ellipse"
    POINTS = "points"
    MASK = "mask"


@dataclass
class Shape:
    """A shape of one annotator on one frame of one source file.

    Coordinates are the tools' continuous pixel coordinates: ``x`` to the right, ``y``
    down, pixel ``(row r, column c)`` covering ``[c, c + 1) x [r, r + 1)`` so that its
    centre is ``(c + 0.5, r + 0.5)``.

    Attributes
    ----------
    kind : ShapeKind
    label : str
        The tool's label, as written in the file.
    source : str
        The image or video the shape belongs to (file name as the tool stores it).
    frame : int
        Frame of the source file (0-based, in the file's own numbering); 0 for images.
    annotator : str
    where : str
        Names the file and the shape for messages (``"ann.xml image 'a.png' polygon 3"``).
    points : (K, 2) float array
        Vertices ``(x, y)``: polygon and polyline vertices, the points of ``points``,
        ``[[x0, y0], [x1, y1]]`` corners of a box, ``[[cx, cy], [rx, ry]]`` of an ellipse.
    rotation : float
        Degrees, clockwise on screen, about the centre (boxes and ellipses).
    mask : (H, W) bool array or None
        Full-frame mask of ``mask`` shapes (already decoded).
    width : float or None
        Line width in pixels of a polyline given by the file (else the option's).
    attributes : dict
        The tool's attributes (name -> value as text or number).
    score : float or None
        A detector score in 0..1 (COCO results).
    image_size : (H, W) or None
        The frame size the file states, when it does.
    """

    kind: ShapeKind
    label: str
    source: str
    frame: int
    annotator: str
    where: str
    points: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    rotation: float = 0.0
    mask: np.ndarray | None = None
    width: float | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    score: float | None = None
    image_size: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        self.kind = ShapeKind(self.kind)
        self.points = np.asarray(self.points, np.float64).reshape(-1, 2)
