"""Matplotlib figures of the report, returned as PNG bytes (Agg, no pyplot state)."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Curve", "Level", "Panel", "png_bytes", "frame_grid", "curve_grid"]

#: Resolution of every figure (dots per inch).
DPI = 96


def png_bytes(fig) -> bytes:
    """Render a ``matplotlib.figure.Figure`` to PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def _new_figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def _upscale(img: np.ndarray, size: int) -> np.ndarray:
    """``(H, W[, 3]) uint8`` as RGB, enlarged by an integer factor (nearest) to about ``size`` pixels."""
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=-1)
    k = max(1, size // max(img.shape[:2]))
    return np.repeat(np.repeat(img, k, axis=0), k, axis=1) if k > 1 else img


def frame_grid(panels: list[tuple[str, np.ndarray]], title: str, ncols: int = 6, size: int = 160) -> bytes:
    """Images side by side with a title over each, wrapped into rows of ``ncols``.

    The panels are pasted into one canvas (no axes), so this stays fast for
    many panels.

    Parameters
    ----------
    panels : list of (title, image)
        Image ``(H, W, 3) uint8`` or ``(H, W) uint8``; all the same size.
    title : str
        Figure title (frame ID, zone, probe).
    ncols : int
    size : int
        Approximate panel size in pixels (frames are enlarged by whole factors).

    Returns
    -------
    bytes
        PNG.
    """
    tiles = [_upscale(np.asarray(img, np.uint8), size) for _, img in panels]
    th, tw = tiles[0].shape[:2]
    n = len(tiles)
    cols = min(ncols, n)
    rows = -(-n // cols)
    gap, label, top = 8, 18, 22
    height = top + rows * (label + th + gap)
    width = cols * (tw + gap) + gap
    canvas = np.full((height, width, 3), 255, np.uint8)
    fig = _new_figure(width / DPI, height / DPI)
    for i, ((name, _), tile) in enumerate(zip(panels, tiles, strict=True)):
        r, c = divmod(i, cols)
        y = top + r * (label + th + gap) + label
        x = gap + c * (tw + gap)
        canvas[y:y + th, x:x + tw] = tile[:th, :tw]
        fig.text((x + tw / 2) / width, 1 - (y - 3) / height, name, ha="center", va="bottom", fontsize=8)
    fig.figimage(canvas, 0, 0, origin="upper")
    fig.text(0.5, 1 - 4 / height, title, ha="center", va="top", fontsize=9)
    return png_bytes(fig)


@dataclass
class Curve:
    """A metric against the threshold, with its CI band.

    Attributes
    ----------
    label : str
    x : (K,) float
        Thresholds in percent.
    y, low, high : (K,) float
        Estimate and CI bounds (NaN bounds draw no band).
    """

    label: str
    x: np.ndarray
    y: np.ndarray
    low: np.ndarray
    high: np.ndarray


@dataclass
class Level:
    """A pipeline without a threshold (truth, soft, ...) drawn as a horizontal line."""

    label: str
    y: float
    low: float = float("nan")
    high: float = float("nan")


@dataclass
class Panel:
    """One subplot: curves and horizontal levels of one metric."""

    title: str
    ylabel: str
    curves: list[Curve] = field(default_factory=list)
    levels: list[Level] = field(default_factory=list)


def curve_grid(panels: list[Panel], ncols: int = 3) -> bytes:
    """Subplots of metric-versus-threshold curves with shaded 95 % CI bands.

    Curves are solid lines with markers and a band; levels are dashed
    horizontal lines (their CI a light band across the plot).

    Returns
    -------
    bytes
        PNG.
    """
    n = len(panels)
    cols = min(ncols, n)
    rows = -(-n // cols)
    fig = _new_figure(3.9 * cols, 3.0 * rows + 0.2)
    axes = fig.subplots(rows, cols, squeeze=False, gridspec_kw={"left": 0.22 / cols + 0.03, "right": 0.98,
                                                                 "bottom": 0.5 / (3.0 * rows), "top": 1 - 0.35 / (3.0 * rows),
                                                                 "wspace": 0.3, "hspace": 0.45})
    for i, ax in enumerate(axes.ravel()):
        if i >= n:
            ax.set_axis_off()
            continue
        p = panels[i]
        xs = [c.x for c in p.curves if len(c.x)]
        x_lo = min((float(np.min(x)) for x in xs), default=50.0)
        x_hi = max((float(np.max(x)) for x in xs), default=100.0)
        for k, c in enumerate(p.curves):
            color = f"C{k}"
            ax.plot(c.x, c.y, "o-", color=color, ms=3.5, lw=1.5, label=c.label)
            band = np.isfinite(c.low) & np.isfinite(c.high)
            if band.any():
                ax.fill_between(c.x, np.where(band, c.low, np.nan), np.where(band, c.high, np.nan),
                                color=color, alpha=0.18, lw=0)
        for k, lv in enumerate(p.levels):
            color = "black" if lv.label == "truth" else f"C{len(p.curves) + k}"
            ax.axhline(lv.y, color=color, ls="--", lw=1.1, label=lv.label)
            if np.isfinite(lv.low) and np.isfinite(lv.high):
                ax.axhspan(lv.low, lv.high, color=color, alpha=0.07, lw=0)
        ax.set_xlim(x_lo - 3, x_hi + 3)
        ax.set_title(p.title, fontsize=9)
        ax.set_xlabel("threshold T (% confidence)", fontsize=8)
        ax.set_ylabel(p.ylabel, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3, lw=0.5)
        if p.curves or p.levels:
            ax.legend(fontsize=6.5, loc="best", framealpha=0.8)
    return png_bytes(fig)
