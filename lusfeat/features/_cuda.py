"""The ``cuda`` backend: CuPy kernels over the whole batch.

One launch of ``lusfeat_label_stats_u8`` (one block per frame-class plane)
labels every plane and writes exact integer component statistics; planes that
overflow shared memory are redone by the global-memory kernel. Component
properties (:mod:`._props`) and frame features (:mod:`._lus`) then run as
whole-batch CuPy array operations. Results come back to the host once, at
the end, as NumPy arrays identical to the ``cpu`` backend's.

GPU-only options: none; the block size (256 threads) and the shared-memory
run capacity are chosen from the frame size.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._cuda_kernels import HULL_CAP, STAT_COLUMNS, get_kernels

__all__ = ["run_cuda", "label_stats_cuda", "run_cuda_kernels_only"]

_THREADS = 256
_SHARED_LIMIT = 160 * 1024


def _smem_bytes(h: int, w: int, rmax: int, with_runs: bool) -> int:
    nw = (w + 31) // 32
    words = 2 * h * nw + h + 1 + _THREADS
    if with_runs:
        words += (_THREADS // 32) * 2 * HULL_CAP + 5 * rmax
    return 4 * words


def _rmax(h: int, w: int) -> int:
    """Largest shared-memory run capacity (multiple of 256) within the budget, at most 4096."""
    base = _smem_bytes(h, w, 0, True)
    r = (_SHARED_LIMIT - base) // 20
    return int(max(256, min(4096, r // 256 * 256)))


def label_stats_cuda(planes: Any, images: Any, n_classes: int) -> tuple[Any, Any]:  # pragma: no cover - GPU only
    """Integer component statistics of every plane on the GPU.

    Parameters
    ----------
    planes : (P, H, W) uint8 CuPy array
    images : (F, H, W) uint8 CuPy array or None
        Plane ``p`` reads image ``p // n_classes``.
    n_classes : int

    Returns
    -------
    stats : (K, 17) int64 CuPy array
        Same columns and order as :func:`lusfeat.features._runs.plane_stats`.
    hull_perimeter : (K,) float64 CuPy array
    """
    import cupy as cp

    kern, kern_g = get_kernels()
    n_planes, h, w = planes.shape
    if h > 1024 or w > 1024:
        from .._errors import InputError

        raise InputError(f"the cuda backend supports frames up to 1024x1024, got {h}x{w}")
    has = images is not None
    img = images if has else cp.zeros((1, 1, 1), cp.uint8)
    rmax = _rmax(h, w)
    smem = _smem_bytes(h, w, rmax, True)
    kern.max_dynamic_shared_size_bytes = smem
    cap = max(4096, 32 * n_planes)
    while True:
        stats = cp.empty((cap, STAT_COLUMNS), cp.int64)
        hper = cp.zeros(cap, cp.float64)
        counter = cp.zeros(1, cp.uint64)
        overflow = cp.zeros(n_planes, cp.int32)
        cap_flag = cp.zeros(1, cp.int32)
        kern((n_planes,), (_THREADS,),
             (planes, img, np.int32(has), np.int32(n_classes), np.int32(h), np.int32(w),
              np.int32(rmax), stats, hper, counter, np.int64(cap), overflow, cap_flag),
             shared_mem=smem)
        total = int(counter.get()[0])  # the one host sync of the batch
        if not int(cap_flag.get()[0]):
            break
        cap = total + 1024
    stats, hper = stats[:total], hper[:total]
    keep = overflow[stats[:, 0]] == 0
    stats, hper = stats[keep], hper[keep]
    redo = cp.flatnonzero(overflow).astype(cp.int32)
    if redo.size:
        n_redo = int(redo.size)
        rmax_g = h * ((w + 1) // 2)
        run_store = cp.empty(n_redo * 5 * rmax_g, cp.int32)
        hull = cp.empty(n_redo * (_THREADS // 32) * 2 * (4 * h + 8), cp.uint32)
        cap2 = n_redo * (h * w // 4 + 4)
        stats2 = cp.empty((cap2, STAT_COLUMNS), cp.int64)
        hper2 = cp.zeros(cap2, cp.float64)
        counter2 = cp.zeros(1, cp.uint64)
        flag2 = cp.zeros(1, cp.int32)
        smem_g = _smem_bytes(h, w, 0, False)
        kern_g.max_dynamic_shared_size_bytes = smem_g
        kern_g((n_redo,), (_THREADS,),
               (planes, img, np.int32(has), np.int32(n_classes), np.int32(h), np.int32(w), redo,
                run_store, hull, stats2, hper2, counter2, np.int64(cap2),
                cp.zeros(n_planes, cp.int32), flag2),
               shared_mem=smem_g)
        t2 = int(counter2.get()[0])
        stats = cp.concatenate([stats, stats2[:t2]])
        hper = cp.concatenate([hper, hper2[:t2]])
    order = cp.argsort(stats[:, 0] * (1 << 32) + stats[:, 1])
    return stats[order], hper[order]


def run_cuda_kernels_only(masks: Any, images: Any) -> tuple[Any, Any]:  # pragma: no cover - GPU only
    """Labelling and component statistics only (for benchmarks)."""
    import cupy as cp

    n, c, h, w = masks.shape
    planes = cp.ascontiguousarray(masks).reshape(n * c, h, w).view(cp.uint8)
    return label_stats_cuda(planes, images, c)


def run_cuda(masks: Any, images: Any, spacing: np.ndarray):  # pragma: no cover - GPU only
    """The ``cuda`` backend: same outputs as the ``cpu`` backend, as NumPy arrays."""
    import cupy as cp

    from ._compute import _finish_components
    from ._lus import finish, pixel_stats
    from ._props import component_columns

    dm = cp.ascontiguousarray(cp.asarray(masks))
    di = None if images is None else cp.ascontiguousarray(cp.asarray(images))
    n, c, h, w = dm.shape
    stats, hper = label_stats_cuda(dm.reshape(n * c, h, w).view(cp.uint8), di, c)
    cols = component_columns(stats, hper)
    sp = cp.asarray(spacing, dtype=cp.float64)
    raw = pixel_stats(dm, di, sp)
    frames = finish(raw, cols, sp, h, w, di is not None)
    comps = _finish_components(cols, di is not None, cp)
    return ({k: cp.asnumpy(v) for k, v in frames.items()},
            {k: cp.asnumpy(v) for k, v in comps.items()})
