"""Where each class is, in beam space: the truth masks and the shapes annotators draw.

One definition serves the truth, every annotator's outline (grown by a halo)
and the renderer, so the image, the truth and the labels agree by
construction. Pleural line and effusion live on the tissue grid ``(H, W)``;
A-lines, B-lines and consolidations on the widened lung grid
``(H, W + 2 margin)`` (see :mod:`lusfeat.data._sim_scene`).
"""

from __future__ import annotations

import numpy as np

from ._sim_scene import BLine, Consolidation, Scene

__all__ = ["lung_surface", "class_regions", "a_line_depth", "a_line_columns", "shadow_columns"]

#: A-line reverberations with at least this amplitude are findings (truth and labels).
A_LINE_VISIBLE = 0.12


def lung_surface(scene: Scene) -> np.ndarray:
    """Depth of the lung surface per wide column (pleura, or below an effusion)."""
    zl = scene.pleura_depth.copy()
    e = scene.effusion
    if e is not None:
        u = (np.arange(scene.wide) - e.center) / e.half_width
        zl += e.thickness * np.sqrt(np.clip(1 - u * u, 0, None))
    return zl


def _cols(center: float, half: float, n: int) -> slice:
    return slice(max(0, int(np.floor(center - half))), min(n, int(np.ceil(center + half)) + 1))


def _bline_mask(b: BLine, zl: np.ndarray, grow: float, h: int, n: int) -> tuple[slice, np.ndarray]:
    """Columns and ``(H, cols) bool`` region of one B-line grown by ``grow`` px."""
    reach = min(float(h), b.length)
    cs = _cols(b.center, float(b.half_width(np.array(reach))) + grow, n)
    j = np.arange(cs.start, cs.stop)
    below = np.arange(h, dtype=np.float64)[:, None] - zl[cs][None, :]
    inside = np.abs(j - b.center)[None, :] <= b.half_width(below) + grow
    m = (below >= -grow) & (below <= b.length + grow) & inside
    return cs, m


def _bline_region(out: np.ndarray, b: BLine, zl: np.ndarray, grow: float, value) -> None:
    h, n = out.shape
    cs, m = _bline_mask(b, zl, grow, h, n)
    _paint(out, (slice(None), cs), m, value)


def bline_reading(out: np.ndarray, b: BLine, zl: np.ndarray, halo: float, low: int, conf: int) -> None:
    """Paint a read B-line in one pass: its halo (grown by ``halo`` px) at ``low`` and its core
    at ``conf``, the same as :func:`_bline_region` with the halo then the core (both maxima)."""
    h, n = out.shape
    reach = min(float(h), b.length)
    grow = max(0.0, float(halo))
    cs = _cols(b.center, float(b.half_width(np.array(reach))) + grow, n)
    j = np.arange(cs.start, cs.stop)
    below = np.arange(h, dtype=np.float64)[:, None] - zl[cs][None, :]
    off = np.abs(j - b.center)[None, :] - b.half_width(below)  # px outside the core's half width
    core = (below >= 0) & (below <= b.length) & (off <= 0)
    ring = (below >= -grow) & (below <= b.length + grow) & (off <= grow)
    value = np.where(core, np.uint8(max(conf, low)), np.where(ring, np.uint8(low), np.uint8(0)))
    view = out[:, cs]
    np.maximum(view, value, out=view)


def _cons_bottom(c: Consolidation, u: np.ndarray) -> np.ndarray:
    border = np.interp((u + 1) / 2 * 63, np.arange(64), np.asarray(c.border))
    return c.depth * np.sqrt(np.clip(1 - u * u, 0, None)) * (1 + 0.3 * border)


def _cons_region(out: np.ndarray, c: Consolidation, zl: np.ndarray, grow: float, value) -> None:
    h, n = out.shape
    hw = c.half_width + grow
    cs = _cols(c.center, hw, n)
    j = np.arange(cs.start, cs.stop)
    u = (j - c.center) / hw
    bottom = zl[cs] + _cons_bottom(c, np.clip(u, -1, 1)) + grow
    i = np.arange(h)[:, None]
    m = (i >= zl[cs][None, :] - grow) & (i <= bottom[None, :]) & (np.abs(u) < 1)[None, :]
    _paint(out, (slice(None), cs), m, value)


def _paint(out: np.ndarray, sl, m: np.ndarray, value) -> None:
    if out.dtype == bool:
        out[sl] |= m
    else:
        view = out[sl]
        np.maximum(view, np.where(m, np.uint8(value), np.uint8(0)), out=view)


def class_regions(
    scene: Scene,
    grow: float = 0.0,
    out: dict[str, np.ndarray] | None = None,
    value: int | None = None,
    classes: tuple[str, ...] = ("pleural_line", "a_line", "b_line", "consolidation", "effusion"),
) -> dict[str, np.ndarray]:
    """Paint each class's region of ``scene`` in beam space.

    Parameters
    ----------
    scene : Scene
    grow : float
        Grow every region by this many pixels (an annotator's generous outline).
    out : dict, optional
        Planes to paint into (bool: union; uint8: maximum with ``value``).
    value : int, optional
        Confidence to paint (uint8 planes); ``None`` paints bool masks.
    classes : tuple of str
        Classes to paint.

    Returns
    -------
    dict
        ``pleural_line`` and ``effusion`` ``(H, W)``; ``a_line``, ``b_line`` and
        ``consolidation`` ``(H, W + 2 margin)``; bool, or uint8 with ``value``.
    """
    h, w, m = scene.height, scene.width, scene.margin
    if out is None:
        dt = bool if value is None else np.uint8
        out = {
            "pleural_line": np.zeros((h, w), dt),
            "effusion": np.zeros((h, w), dt),
            "a_line": np.zeros((h, scene.wide), dt),
            "b_line": np.zeros((h, scene.wide), dt),
            "consolidation": np.zeros((h, scene.wide), dt),
        }
    zl = lung_surface(scene)
    i = np.arange(h)[:, None]
    zp = scene.pleura_depth
    t2 = scene.pleura_thickness / 2
    if "pleural_line" in classes:
        vis = scene.pleura_visible[m : m + w]
        r0 = max(0, int(zp.min() - t2 - grow - 1))
        r1 = min(h, int(zp.max() + t2 + grow + 2))
        band = (np.abs(i[r0:r1] - zp[m : m + w][None, :]) <= t2 + grow) & vis[None, :]
        _paint(out["pleural_line"], (slice(r0, r1), slice(None)), band, value)
    if "effusion" in classes and scene.effusion is not None:
        e = scene.effusion
        cs = _cols(e.center, e.half_width + grow, scene.wide)
        j = np.arange(cs.start, cs.stop)
        u = (j - e.center) / (e.half_width + grow)
        top = zp[cs] + t2
        bot = zl[cs] + grow * (np.abs(u) < 1)
        reg = (i >= top[None, :]) & (i < bot[None, :]) & (np.abs(u) < 1)[None, :]
        lo, hi = max(cs.start, m), min(cs.stop, m + w)  # wide columns -> tissue columns
        if hi > lo:
            _paint(out["effusion"], (slice(None), slice(lo - m, hi - m)), reg[:, lo - cs.start : hi - cs.start], value)
    if "b_line" in classes:
        for b in scene.blines:
            _bline_region(out["b_line"], b, zl, grow, value)
    if "consolidation" in classes:
        for c in scene.consolidations:
            _cons_region(out["consolidation"], c, zl, grow, value)
    if "a_line" in classes:
        free = a_line_columns(scene)
        for k, amp in enumerate(scene.a_line_amplitudes(), start=2):
            if amp < A_LINE_VISIBLE:
                break
            depth = a_line_depth(scene, k)
            if depth.max() + t2 >= h - 1:
                break
            r0 = max(0, int(depth.min() - t2 - grow - 1))
            r1 = min(h, int(depth.max() + t2 + grow + 2))
            band = (np.abs(i[r0:r1] - depth[None, :]) <= t2 + grow) & free[None, :]
            _paint(out["a_line"], (slice(r0, r1), slice(None)), band, value)
    return out


def a_line_depth(scene: Scene, k: int) -> np.ndarray:
    """Depth of the ``k``-th reverberation per wide column: ``k`` times the
    smoothed pleural depth (A-lines repeat the skin-pleura distance)."""
    zp = scene.pleura_depth
    n = max(3, zp.size // 8)
    smooth = np.convolve(np.pad(zp, n, mode="edge"), np.ones(2 * n + 1) / (2 * n + 1), mode="same")[n:-n]
    return k * smooth


def a_line_columns(scene: Scene) -> np.ndarray:
    """Wide columns where A-lines are visible (no B-line, consolidation or effusion)."""
    n = scene.wide
    j = np.arange(n, dtype=np.float64)
    free = np.ones(n, dtype=bool)
    for b in scene.blines:
        free &= np.abs(j - b.center) > b.width / 2 + 1
    for c in scene.consolidations:
        free &= np.abs(j - c.center) > c.half_width + 1
    if scene.effusion is not None:
        free &= np.abs(j - scene.effusion.center) > scene.effusion.half_width
    return free


def shadow_columns(scene: Scene) -> np.ndarray:
    """Tissue columns under a rib (acoustic shadow), ``(W,) bool``."""
    j = np.arange(scene.width, dtype=np.float64)
    sh = np.zeros(scene.width, dtype=bool)
    for c, hw in scene.ribs:
        sh |= np.abs(j - c) <= hw
    return sh
