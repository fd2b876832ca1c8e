"""Per-frame preprocessing: gray, colour-overlay removal, scan-region crop, resize.

Every geometric step is recorded so features computed on the stored frame map back to
the original pixels and to millimetres::

    stored (y, x)  ->  original (crop_y0 - pad_top + (y + 0.5) / scale - 0.5,
                                 crop_x0 - pad_left + (x + 0.5) / scale - 0.5)
    pixel_spacing_mm (stored) = orig_pixel_spacing_mm / scale
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._sector import ScanRegion

__all__ = ["COLOUR_THRESHOLD", "to_gray", "geometry", "apply_geometry", "preprocess_frame"]

#: A pixel whose channels differ by more than this (0-255) is a colour overlay.
COLOUR_THRESHOLD = 30


def to_gray(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Convert a frame to gray and find its colour-overlay pixels.

    Parameters
    ----------
    frame : (H, W) or (H, W, 3) uint8

    Returns
    -------
    gray : (H, W) float32
        ITU-R BT.601 luma, 0-255.
    colour : (H, W) bool
        Pixels whose channels differ by more than :data:`COLOUR_THRESHOLD`
        (Doppler boxes, coloured markers and text).
    """
    if frame.ndim == 2:
        return frame.astype(np.float32), np.zeros(frame.shape, bool)
    f = frame.astype(np.float32)
    gray = 0.299 * f[..., 0] + 0.587 * f[..., 1] + 0.114 * f[..., 2]
    colour = (f.max(axis=-1) - f.min(axis=-1)) > COLOUR_THRESHOLD
    return gray, colour


def _fill(gray: np.ndarray, holes: np.ndarray, sigma: float = 3.0) -> np.ndarray:
    """Replace ``holes`` by a Gaussian-weighted mean of the surrounding valid pixels.

    The filters run on the bounding box of the holes widened by the kernel's radius
    (cut at the frame's edges), which gives the same values as filtering the whole frame.
    """
    from scipy.ndimage import gaussian_filter

    out = gray.copy()
    rows, cols = np.flatnonzero(holes.any(axis=1)), np.flatnonzero(holes.any(axis=0))
    if rows.size == 0:
        return out
    r = int(4.0 * float(sigma) + 0.5) + 1  # gaussian_filter's kernel radius (truncate 4) and a margin
    y0, y1 = max(0, int(rows[0]) - r), min(gray.shape[0], int(rows[-1]) + r + 1)
    x0, x1 = max(0, int(cols[0]) - r), min(gray.shape[1], int(cols[-1]) + r + 1)
    h = holes[y0:y1, x0:x1]
    valid = (~h).astype(np.float32)
    num = gaussian_filter(gray[y0:y1, x0:x1] * valid, sigma)
    den = gaussian_filter(valid, sigma)
    win = out[y0:y1, x0:x1]
    win[h] = np.where(den[h] > 1e-3, num[h] / np.maximum(den[h], 1e-3), 0.0)
    return out


def geometry(region: ScanRegion, size: int) -> dict[str, Any]:
    """Crop box, square padding and scale that map the scan region onto ``size x size``.

    Returns
    -------
    dict
        ``orig_height, orig_width, crop_y0, crop_y1, crop_x0, crop_x1, pad_top, pad_left,
        scale`` (stored pixels per original pixel).
    """
    y0, y1, x0, x1 = region.bbox
    h, w = y1 - y0, x1 - x0
    side = max(h, w)
    return {
        "orig_height": int(region.mask.shape[0]),
        "orig_width": int(region.mask.shape[1]),
        "crop_y0": y0, "crop_y1": y1, "crop_x0": x0, "crop_x1": x1,
        "pad_top": (side - h) // 2, "pad_left": (side - w) // 2,
        "scale": float(size) / float(side),
    }


def apply_geometry(
    plane: np.ndarray, region: ScanRegion, geo: dict[str, Any], size: int, *, smooth: bool
) -> np.ndarray:
    """Zero outside the region, crop, pad to a square and resize one plane.

    Parameters
    ----------
    plane : (H, W) float
    region : ScanRegion
    geo : dict
        From :func:`geometry`.
    size : int
        Output side in pixels.
    smooth : bool
        Anti-alias when shrinking (images); masks are interpolated without it.

    Returns
    -------
    (size, size) float64
    """
    from skimage.transform import resize

    y0, y1, x0, x1 = geo["crop_y0"], geo["crop_y1"], geo["crop_x0"], geo["crop_x1"]
    crop = np.where(region.mask, plane, 0)[y0:y1, x0:x1]
    side = max(y1 - y0, x1 - x0)
    sq = np.zeros((side, side), np.float64)
    sq[geo["pad_top"] : geo["pad_top"] + (y1 - y0), geo["pad_left"] : geo["pad_left"] + (x1 - x0)] = crop
    if side == size:
        return sq
    return resize(sq, (size, size), order=1, mode="constant", cval=0.0,
                  anti_aliasing=smooth and side > size, preserve_range=True)


def preprocess_frame(frame: np.ndarray, region: ScanRegion, size: int) -> tuple[np.ndarray, dict[str, Any]]:
    """Turn one raw frame into a stored ``(size, size) uint8`` frame.

    Steps: RGB to gray; colour-overlay pixels inside the scan region are filled from their
    gray neighbours; pixels outside the region (black frame, burned-in text, overlays)
    are set to 0; crop to the region's bounding box; pad to a square (centred);
    bilinear resize to ``size``.

    Parameters
    ----------
    frame : (H, W) or (H, W, 3) uint8
    region : ScanRegion
        From :func:`lusfeat.data.ingest.detect_scan_region` on this frame (or its clip).
    size : int
        Output side in pixels.

    Returns
    -------
    image : (size, size) uint8
    record : dict
        :func:`geometry` plus ``colour_pixels`` (overlay pixels filled inside the region).
    """
    gray, colour = to_gray(frame)
    inside = colour & region.mask
    if inside.any():
        gray = _fill(gray, colour)
    geo = geometry(region, size)
    out = apply_geometry(gray, region, geo, size, smooth=True)
    record = dict(geo, colour_pixels=int(inside.sum()))
    return np.clip(np.rint(out), 0, 255).astype(np.uint8), record
