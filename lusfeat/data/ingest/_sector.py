"""Detection of the scan region (convex fan or linear rectangle) in an ultrasound frame.

Exported frames carry a black frame around the image, burned-in text and sometimes
colour overlays. The scan region is found from the intensity alone:

1. colour pixels (overlays) are ignored, the frame is median filtered (3x3) and
   thresholded just above the black level;
2. an opening removes thin strokes (text, calipers, tick marks);
3. the connected components that cover at least ``min_component`` of the frame are kept;
4. their convex hull is the scan region (fans and rectangles are convex, and the hull
   restores dark tissue such as shadows inside the region).

The region is classified as a ``"sector"`` (a fan, from a convex or phased-array probe:
completed by symmetry about its axis where its deep part is dark) or a ``"rectangle"`` (linear probe, or a crop inside a fan).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..._errors import InputError

__all__ = ["ScanRegion", "detect_scan_region"]


@dataclass(frozen=True)
class ScanRegion:
    """The scan region of a frame.

    Attributes
    ----------
    mask : (H, W) bool
        True inside the scan region.
    bbox : tuple of int
        ``(y0, y1, x0, x1)``: half-open bounding box of ``mask`` in pixels.
    kind : str
        ``"sector"`` (fan) or ``"rectangle"``.
    fraction : float
        Fraction of the frame covered by the region.
    """

    mask: np.ndarray
    bbox: tuple[int, int, int, int]
    kind: str
    fraction: float


def _disk(radius: int) -> np.ndarray:
    r = int(radius)
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    return (yy * yy + xx * xx) <= r * r


def _kind_of(mask: np.ndarray, bbox: tuple[int, int, int, int]) -> str:
    """``"rectangle"`` when the region fills its bounding box or its top is full width.

    A fan's top (near the probe) is much narrower than its bounding box; a linear image
    (or a crop inside a fan) is full width at the top even when a deep corner is dark.
    """
    y0, y1, x0, x1 = bbox
    box = mask[y0:y1, x0:x1]
    fill = box.mean()
    band = max(1, (y1 - y0) // 20)
    top = float(np.median(box[:band].sum(axis=1))) / (x1 - x0)
    return "rectangle" if fill >= 0.97 or (fill >= 0.9 and top >= 0.95) else "sector"


def _mirror_complete(hull: np.ndarray, bbox: tuple[int, int, int, int]) -> np.ndarray:
    """Union a fan with its mirror image about the fan axis.

    Fans are symmetric about the probe axis; where the deep part of one side is dark
    (acoustic shadow) the detected hull is cut diagonally, and the other side restores
    it. The axis is the mean midpoint of the upper fifth of the region; only the lower half
    is mirrored, so an off-axis crop with a black top corner keeps its corner out.
    """
    y0, y1, _, _ = bbox
    band = max(1, (y1 - y0) // 5)
    rows = hull[y0 : y0 + band]
    cols = np.arange(hull.shape[1])
    mids = [(cols[r].min() + cols[r].max()) / 2 for r in rows if r.any()]
    axis = float(np.mean(mids))
    w = hull.shape[1]
    src = np.rint(2 * axis - cols).astype(int)
    ok = (src >= 0) & (src < w)
    mirrored = np.zeros_like(hull)
    mirrored[:, ok] = hull[:, src[ok]]
    mirrored[: y0 + (y1 - y0) // 2] = False  # only the deep half: the top edges are reliable
    return hull | mirrored


def detect_scan_region(
    frame: np.ndarray,
    *,
    threshold: float = 6.0,
    open_radius: int | None = None,
    min_component: float = 0.01,
) -> ScanRegion:
    """Find the scan region (fan or rectangle) of an ultrasound frame.

    Parameters
    ----------
    frame : (H, W) or (H, W, 3) uint8, or (F, H, W[, 3]) uint8
        One frame, or several frames of one clip (their pixelwise maximum is used,
        which makes the region more complete than any single frame).
    threshold : float
        Gray level (0-255) above which a median-filtered pixel counts as image.
    open_radius : int, optional
        Radius in pixels of the opening that removes text strokes; by default
        ``max(2, round(min(H, W) / 100))``.
    min_component : float
        Components smaller than this fraction of the frame are dropped (text, logos).

    Returns
    -------
    ScanRegion
        The region mask, its bounding box, kind and coverage. A frame without any
        bright enough content gives the whole frame (kind ``"rectangle"``).

    Raises
    ------
    InputError
        When ``frame`` is not a 2-D gray or 3-channel colour image (or a stack of them).

    Examples
    --------
    >>> import numpy as np
    >>> img = np.zeros((64, 64), np.uint8); img[8:56, 12:52] = 90
    >>> r = detect_scan_region(img)
    >>> r.bbox, r.kind
    ((8, 56, 12, 52), 'rectangle')
    """
    arr = np.asarray(frame)
    is_colour = arr.ndim >= 3 and arr.shape[-1] == 3
    if arr.ndim not in (2, 3, 4) or (arr.ndim == 4 and not is_colour):
        raise InputError(
            f"detect_scan_region expects (H, W), (H, W, 3) or a stack of them; got shape {arr.shape}"
        )
    gray = _gray_maximum(arr, is_colour)
    mask = _content_hull(gray, threshold, open_radius, min_component)
    bbox = _bbox(mask)
    kind = _kind_of(mask, bbox)
    mask = _complete_region(mask, bbox, kind)
    bbox = _bbox(mask)
    return ScanRegion(mask=mask, bbox=bbox, kind=kind, fraction=float(mask.mean()))


def _gray_maximum(arr: np.ndarray, is_colour: bool) -> np.ndarray:
    """Gray ``(H, W)`` image of a frame or the pixelwise maximum of a stack; colour overlays are 0."""
    if is_colour:
        a = arr.astype(np.int16)
        gray = a.mean(axis=-1).astype(np.uint8)
        gray[(a.max(axis=-1) - a.min(axis=-1)) > 30] = 0  # colour overlay: not image
    else:
        gray = arr
    if gray.ndim == 3:  # stack of frames
        gray = gray.max(axis=0)
    return gray


def _content_hull(gray: np.ndarray, threshold: float, open_radius: int | None,
                  min_component: float) -> np.ndarray:
    """Convex hull of the large bright components (text strokes opened away); the whole frame if none."""
    from scipy import ndimage as ndi
    from skimage.morphology import convex_hull_image

    h, w = gray.shape
    smooth = ndi.median_filter(gray, size=3)
    fg = smooth > threshold
    radius = max(2, round(min(h, w) / 100)) if open_radius is None else int(open_radius)
    fg = ndi.binary_opening(fg, structure=_disk(radius))
    labels, n = ndi.label(fg, structure=np.ones((3, 3), bool))
    if n == 0:
        return np.ones((h, w), bool)
    sizes = np.bincount(labels.ravel())[1:]
    keep = np.flatnonzero(sizes >= max(min_component * h * w, 1)) + 1
    if keep.size == 0:
        keep = np.array([int(np.argmax(sizes)) + 1])
    return convex_hull_image(np.isin(labels, keep))


def _complete_region(mask: np.ndarray, bbox: tuple[int, int, int, int], kind: str) -> np.ndarray:
    """A sector mirror-completed (then hulled again), a near-full rectangle made exact; else ``mask``."""
    if kind == "sector":
        from skimage.morphology import convex_hull_image

        completed = _mirror_complete(mask, bbox)
        if (completed & ~mask).any():  # the hull only changes when mirroring added pixels
            mask = convex_hull_image(completed)
    elif mask[bbox[0] : bbox[1], bbox[2] : bbox[3]].mean() >= 0.99:  # a clean rectangle
        y0, y1, x0, x1 = bbox
        mask = np.zeros_like(mask)
        mask[y0:y1, x0:x1] = True
    return mask

def _bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    ys = np.flatnonzero(mask.any(axis=1))
    xs = np.flatnonzero(mask.any(axis=0))
    return (int(ys[0]), int(ys[-1]) + 1, int(xs[0]), int(xs[-1]) + 1)
