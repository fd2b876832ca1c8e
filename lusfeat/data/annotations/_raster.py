"""Rasterise shapes onto a frame's pixel grid: one exact rule per shape kind.

A pixel ``(r, c)`` has its centre at ``(x, y) = (c + 0.5, r + 0.5)`` in the tools'
coordinates (CVAT, COCO and LabelMe all put the image's top-left corner at ``(0, 0)``).

==========  =========================================================================
polygon     pixels whose centre lies inside the polygon or on one of its edges
            (even-odd rule; a centre within 1e-9 px of an edge counts as on it)
box         centres with ``x0 <= x <= x1`` and ``y0 <= y <= y1`` (edges included),
            after undoing the box's rotation about its centre
ellipse     centres with ``(u / rx)^2 + (v / ry)^2 <= 1``, ``(u, v)`` the centre's
            offset from the ellipse centre in the ellipse's (rotated) axes
polyline    centres within ``width / 2`` of a segment (distance ``<=``)
points      the pixel containing each point (``floor(x), floor(y)``); with a width
            above 1, centres within ``width / 2`` of the point as well
mask        the decoded mask itself
==========  =========================================================================

Parts of a shape outside the frame are dropped. Rotations are in degrees, clockwise on
screen (``y`` down), as CVAT stores them. Per class, overlapping shapes of one annotator
give each pixel the highest confidence among the shapes covering it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from .._format import CLASS_NAMES
from ._shapes import Shape, ShapeKind

__all__ = ["EDGE_TOL", "rasterise", "confidence_planes"]

#: Distance (pixels) within which a pixel centre counts as lying on a polygon edge.
EDGE_TOL = 1e-9


def _grid(shape: tuple[int, int], x0: float, y0: float, x1: float, y1: float):
    """Pixel-centre coordinates of the frame's pixels whose centres may lie in a box."""
    h, w = shape
    c0, c1 = max(0, math.floor(x0 - 0.5)), min(w, math.ceil(x1 + 0.5))
    r0, r1 = max(0, math.floor(y0 - 0.5)), min(h, math.ceil(y1 + 0.5))
    if c1 <= c0 or r1 <= r0:
        return None
    yy, xx = np.mgrid[r0:r1, c0:c1].astype(np.float64)
    return (slice(r0, r1), slice(c0, c1)), xx + 0.5, yy + 0.5


def _segment_distance(px: np.ndarray, py: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = b - a
    len2 = float(d @ d)
    if len2 == 0.0:
        return np.hypot(px - a[0], py - a[1])
    t = np.clip(((px - a[0]) * d[0] + (py - a[1]) * d[1]) / len2, 0.0, 1.0)
    return np.hypot(px - (a[0] + t * d[0]), py - (a[1] + t * d[1]))


def _polygon(pts: np.ndarray, px: np.ndarray, py: np.ndarray) -> np.ndarray:
    inside = np.zeros(px.shape, bool)
    on_edge = np.zeros(px.shape, bool)
    n = len(pts)
    for i in range(n):
        a, b = pts[i], pts[(i + 1) % n]
        on_edge |= _segment_distance(px, py, a, b) <= EDGE_TOL
        if a[1] == b[1]:
            continue
        crosses = (a[1] > py) != (b[1] > py)
        x_at = a[0] + (py - a[1]) * (b[0] - a[0]) / (b[1] - a[1])
        inside ^= crosses & (px < x_at)
    return inside | on_edge


def _unrotate(px: np.ndarray, py: np.ndarray, cx: float, cy: float, degrees: float):
    """Offsets of the centres from ``(cx, cy)`` in the shape's own (unrotated) axes."""
    t = math.radians(degrees)
    dx, dy = px - cx, py - cy
    return math.cos(t) * dx + math.sin(t) * dy, -math.sin(t) * dx + math.cos(t) * dy


def _bounds(s: Shape, line_width: float) -> tuple[float, float, float, float]:
    p = s.points
    if s.kind is ShapeKind.ELLIPSE:
        (cx, cy), (rx, ry) = p[0], np.abs(p[1])
        r = max(rx, ry)
        return cx - r, cy - r, cx + r, cy + r
    if s.kind is ShapeKind.BOX and s.rotation:
        (x0, y0), (x1, y1) = p[0], p[1]
        r = 0.5 * math.hypot(x1 - x0, y1 - y0)
        cx, cy = 0.5 * (x0 + x1), 0.5 * (y0 + y1)
        return cx - r, cy - r, cx + r, cy + r
    pad = 0.5 * line_width if s.kind in (ShapeKind.POLYLINE, ShapeKind.POINTS) else 0.0
    return p[:, 0].min() - pad, p[:, 1].min() - pad, p[:, 0].max() + pad, p[:, 1].max() + pad


def rasterise(s: Shape, shape: tuple[int, int], line_width: float = 3.0) -> np.ndarray:
    """Pixels covered by one shape (rules in the module docstring).

    Parameters
    ----------
    s : Shape
    shape : (H, W)
        Frame size in pixels.
    line_width : float
        Width in pixels of polylines (and points above 1 px) whose shape states none.

    Returns
    -------
    (H, W) bool
    """
    out = np.zeros(shape, bool)
    if s.kind is ShapeKind.MASK:
        m = np.asarray(s.mask, bool)
        hh, ww = min(m.shape[0], shape[0]), min(m.shape[1], shape[1])
        out[:hh, :ww] = m[:hh, :ww]
        return out
    if len(s.points) == 0:
        return out
    width = float(s.width) if s.width is not None else float(line_width)
    if s.kind is ShapeKind.POINTS:
        for x, y in s.points:
            c, r = math.floor(x), math.floor(y)
            if 0 <= r < shape[0] and 0 <= c < shape[1]:
                out[r, c] = True
        if width <= 1:
            return out
    grid = _grid(shape, *_bounds(s, width))
    if grid is None:
        return out
    sl, px, py = grid
    p = s.points
    if s.kind is ShapeKind.POLYGON:
        hit = _polygon(p, px, py)
    elif s.kind is ShapeKind.BOX:
        (x0, y0), (x1, y1) = np.minimum(p[0], p[1]), np.maximum(p[0], p[1])
        u, v = _unrotate(px, py, 0.5 * (x0 + x1), 0.5 * (y0 + y1), s.rotation)
        hit = (np.abs(u) <= 0.5 * (x1 - x0) + EDGE_TOL) & (np.abs(v) <= 0.5 * (y1 - y0) + EDGE_TOL)
    elif s.kind is ShapeKind.ELLIPSE:
        (cx, cy), (rx, ry) = p[0], np.abs(p[1])
        u, v = _unrotate(px, py, cx, cy, s.rotation)
        hit = (u / max(rx, 1e-12)) ** 2 + (v / max(ry, 1e-12)) ** 2 <= 1.0 + EDGE_TOL
    else:  # polyline, or points wider than one pixel
        near = np.full(px.shape, np.inf)
        pairs = zip(p[:-1], p[1:], strict=True) if s.kind is ShapeKind.POLYLINE and len(p) > 1 else ((q, q) for q in p)
        for a, b in pairs:
            near = np.minimum(near, _segment_distance(px, py, a, b))
        hit = near <= 0.5 * width + EDGE_TOL
    out[sl] |= hit
    return out


def confidence_planes(
    shapes: Iterable[tuple[Shape, str, float]], shape: tuple[int, int], line_width: float = 3.0
) -> np.ndarray:
    """Per-class confidence of one annotator on one frame.

    Parameters
    ----------
    shapes : iterable of (Shape, class name, confidence in percent)
    shape : (H, W)
    line_width : float
        See :func:`rasterise`.

    Returns
    -------
    (C, H, W) float64
        Percent 0..100 in :data:`lusfeat.data.CLASS_NAMES` order; 0 where no shape of the
        class lies; the highest confidence where shapes of one class overlap.
    """
    out = np.zeros((len(CLASS_NAMES), *shape), np.float64)
    for s, cls, conf in shapes:
        k = CLASS_NAMES.index(cls)
        hit = rasterise(s, shape, line_width)
        out[k][hit] = np.maximum(out[k][hit], float(conf))
    return out
