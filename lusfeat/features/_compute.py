"""Public compute functions and backend dispatch (reference / cpu / cuda)."""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd

from .._errors import InputError
from ..data._format import CLASS_NAMES
from ._dictionary import DICTIONARY

__all__ = ["Backend", "compute", "compute_components", "parse_backend", "resolve_backend", "available_backends"]

log = logging.getLogger(__name__)

COMPONENT_NAMES = [n for n in DICTIONARY.names("component") if n != "label"]
FRAME_NAMES = DICTIONARY.names("frame")


class Backend(StrEnum):
    """Feature backends; ``auto`` picks ``cuda`` when CuPy sees a GPU, else ``cpu``."""

    AUTO = "auto"
    REFERENCE = "reference"
    CPU = "cpu"
    CUDA = "cuda"


def _cupy_or_none() -> Any:
    try:
        import cupy
    except ImportError:
        return None
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            return None
    except Exception:  # no driver / no device
        return None
    return cupy


def available_backends() -> list[str]:
    """Backends that can run on this machine."""
    names = ["reference", "cpu"]
    if _cupy_or_none() is not None:
        names.append("cuda")
    return names


def parse_backend(backend: str | Backend) -> Backend:
    """``backend`` as a :class:`Backend` (``auto`` kept), or an InputError naming the choices."""
    try:
        return Backend(str(backend))
    except ValueError:
        raise InputError(
            f"backend {backend!r} is unknown; choose one of {[m.value for m in Backend]}"
        ) from None


def resolve_backend(backend: str | Backend) -> Backend:
    """Turn ``backend`` into a concrete backend, checking that it can run."""
    b = parse_backend(backend)
    if b is Backend.AUTO:
        return Backend.CUDA if _cupy_or_none() is not None else Backend.CPU
    if b is Backend.CUDA and _cupy_or_none() is None:
        raise InputError("backend 'cuda' needs CuPy and a CUDA GPU; use backend='cpu'")
    return b


def _is_cupy(a: Any) -> bool:
    return type(a).__module__.startswith("cupy")


def validate_inputs(masks: Any, images: Any, spacing: Any) -> tuple[Any, Any, np.ndarray]:
    """Check shapes and dtypes; return masks, images and a (N,) float64 spacing."""
    if not hasattr(masks, "ndim") or not hasattr(masks, "dtype"):
        raise InputError(f"masks must be an (N, {len(CLASS_NAMES)}, H, W) bool array, got {type(masks).__name__}")
    if masks.ndim != 4 or masks.shape[1] != len(CLASS_NAMES):
        raise InputError(
            f"masks must have shape (N, {len(CLASS_NAMES)}, H, W) with classes {CLASS_NAMES}, "
            f"got shape {tuple(masks.shape)}"
        )
    if masks.dtype != bool:
        raise InputError(
            f"masks must be bool, got dtype {masks.dtype}; threshold them first "
            "(e.g. masks > 0.5 or masks.astype(bool))"
        )
    n, _, h, w = masks.shape
    if images is not None:
        if images.ndim != 3 or tuple(images.shape) != (n, h, w):
            raise InputError(f"images must have shape ({n}, {h}, {w}) to match the masks, got {tuple(images.shape)}")
        if images.dtype != np.uint8:
            raise InputError(f"images must be uint8 (0-255), got dtype {images.dtype}")
    if spacing is None:
        sp = np.full(n, np.nan)
    else:
        sp = np.asarray(spacing, dtype=np.float64)
        if sp.ndim == 0:
            sp = np.full(n, float(sp))
        if sp.shape != (n,):
            raise InputError(f"spacing must be a scalar or shape ({n},) in mm per pixel, got shape {sp.shape}")
        if np.any(sp <= 0):
            raise InputError("spacing must be > 0 mm per pixel (NaN when unknown)")
    return masks, images, sp


def _run_reference(masks: np.ndarray, images: np.ndarray | None, spacing: np.ndarray):
    from ._reference import reference_components, reference_frame

    n = masks.shape[0]
    comp_rows: list[dict] = []
    frames: dict[str, list[float]] = {k: [] for k in FRAME_NAMES}
    for i in range(n):
        img = None if images is None else images[i]
        comps = reference_components(masks[i], img)
        feats = reference_frame(masks[i], img, float(spacing[i]), comps)
        for k in FRAME_NAMES:
            frames[k].append(feats[k])
        for row in comps:
            row["frame"] = i
        comp_rows.extend(comps)
    keys = ["frame", "class_index", "label", *COMPONENT_NAMES]
    comp_cols = {k: np.asarray([r[k] for r in comp_rows], dtype=DICTIONARY.dtype(k)) for k in keys}
    return {k: np.asarray(v, dtype=np.float64) for k, v in frames.items()}, comp_cols


def _run_cpu(masks: np.ndarray, images: np.ndarray | None, spacing: np.ndarray,
             pixel_path: str = "numba"):
    """Row-run labelling (numba) + per-frame pixel statistics + finishing.

    ``pixel_path="array"`` uses the whole-array NumPy version of the pixel
    statistics (the one the cuda backend runs with CuPy) instead of numba.
    """
    from ._lus import finish, pixel_stats
    from ._profiles import pixel_stats_numba
    from ._props import component_columns, finish_components
    from ._runs import label_planes

    n, c, h, w = masks.shape
    masks = np.ascontiguousarray(masks)
    planes = masks.reshape(n * c, h, w).view(np.uint8)
    plane_image = np.arange(n * c, dtype=np.int64) // c
    stats, hper = label_planes(planes, images, plane_image)
    cols = component_columns(stats, hper)
    if pixel_path == "numba":
        raw = pixel_stats_numba(masks, images, spacing)
    else:
        raw = pixel_stats(masks, images, spacing)
    frames = finish(raw, cols, spacing, h, w, images is not None)
    return frames, finish_components(cols, images is not None)


def run_backend(masks: Any, images: Any, spacing: Any, backend: str | Backend):
    """Validate, dispatch and return ``(frame_columns, component_columns)`` as NumPy.

    ``frame_columns`` maps each frame feature to an (N,) float64 array;
    ``component_columns`` maps ``frame``, ``class_index``, ``label`` and each
    component feature to (K,) arrays.
    """
    masks, images, sp = validate_inputs(masks, images, spacing)
    b = resolve_backend(backend)
    if b is Backend.CUDA:
        from ._cuda import run_cuda

        return run_cuda(masks, images, sp)
    if _is_cupy(masks):
        masks = masks.get()
    if images is not None and _is_cupy(images):
        images = images.get()
    masks = np.asarray(masks)
    images = None if images is None else np.asarray(images)
    if b is Backend.REFERENCE:
        return _run_reference(masks, images, sp)
    return _in_slices(_run_cpu, masks, images, sp)


#: Frames the CPU backend computes at a time. Its temporaries (labels, runs, row
#: statistics) then stay in memory glibc reuses instead of fresh ``mmap`` pages: at 256
#: frames of 256x256 a call faulted in about 400 MB of new pages, whose kernel time took
#: 45 % of the wall time and did not scale across processes; at 16 frames it is gone.
CPU_SLICE_FRAMES = 16


def _in_slices(run: Any, masks: np.ndarray, images: np.ndarray | None, spacing: np.ndarray,
               step: int = CPU_SLICE_FRAMES):
    """``run`` on ``step`` frames at a time, its outputs joined as if run on all frames at once."""
    n = masks.shape[0]
    if n <= step:
        return run(masks, images, spacing)
    parts = [run(masks[s : s + step], None if images is None else images[s : s + step], spacing[s : s + step])
             for s in range(0, n, step)]
    frames = {k: np.concatenate([f[k] for f, _ in parts]) for k in parts[0][0]}
    comps = {k: np.concatenate([c[k] + (s if k == "frame" else 0) for (_, c), s in zip(parts, range(0, n, step),
                                                                                       strict=True)])
             for k in parts[0][1]}
    return frames, comps


def compute(masks: Any, images: Any = None, spacing: Any = None, backend: str = "auto") -> pd.DataFrame:
    """Frame-level features, one row per frame.

    Parameters
    ----------
    masks : (N, 5, H, W) bool array (NumPy or CuPy)
        Class masks in the order of :data:`lusfeat.CLASS_NAMES`.
    images : (N, H, W) uint8 array, optional
        Intensity images for the intensity features (NaN without them).
    spacing : float or (N,) float, optional
        Pixel spacing in mm per pixel; NaN or ``None`` means unknown, and
        lengths/areas of those frames are reported in pixels.
    backend : {"auto", "reference", "cpu", "cuda"}
        ``reference`` is scikit-image frame by frame (the specification);
        ``cpu`` the batched row-run path; ``cuda`` CuPy kernels.

    Returns
    -------
    pandas.DataFrame
        Column ``frame`` (0..N-1) and one float64 column per frame feature of
        :data:`lusfeat.features.DICTIONARY`.

    Raises
    ------
    InputError
        Wrong shape, dtype or class count, bad spacing, unknown or
        unavailable backend.

    Examples
    --------
    >>> import numpy as np
    >>> from lusfeat.features import compute
    >>> m = np.zeros((1, 5, 32, 32), bool); m[0, 2, 10:30, 5:8] = True
    >>> int(compute(m, backend="cpu")["b_line_count"][0])
    1
    """
    frames, _ = run_backend(masks, images, spacing, backend)
    n = int(masks.shape[0])
    df = pd.DataFrame({"frame": np.arange(n, dtype=np.int64)})
    return pd.concat([df, pd.DataFrame({k: frames[k] for k in FRAME_NAMES})], axis=1)


def components_frame(comps: dict[str, np.ndarray]) -> pd.DataFrame:
    """Component columns as a DataFrame with a ``class`` name column."""
    df = pd.DataFrame({k: np.asarray(v) for k, v in comps.items()})
    df.insert(1, "class", pd.Series(np.asarray(CLASS_NAMES, dtype=object)[df["class_index"].to_numpy()],
                                    dtype="string") if len(df) else pd.Series([], dtype="string"))
    return df


def compute_components(masks: Any, images: Any = None, backend: str = "auto") -> pd.DataFrame:
    """Per-component properties (scikit-image ``regionprops`` definitions), one row per component.

    Parameters
    ----------
    masks : (N, 5, H, W) bool array
    images : (N, H, W) uint8 array, optional
    backend : {"auto", "reference", "cpu", "cuda"}

    Returns
    -------
    pandas.DataFrame
        ``frame``, ``class``, ``class_index``, ``label`` (1.. per frame and
        class, raster order) and the component features in pixel units,
        ordered by frame, class, label.

    Examples
    --------
    >>> import numpy as np
    >>> from lusfeat.features import compute_components
    >>> m = np.zeros((1, 5, 16, 16), bool); m[0, 3, 2:5, 2:6] = True
    >>> compute_components(m, backend="cpu")[["class", "area"]].values.tolist()
    [['consolidation', 12]]
    """
    _, comps = run_backend(masks, images, None, backend)
    return components_frame(comps)

