"""The ``cuda`` backend: CuPy kernels over the whole batch.

One launch of ``lusfeat_label_stats_u8`` (one block per frame-class plane)
labels every plane and writes exact integer component statistics; planes that
overflow shared memory are redone by the global-memory kernel. Component
properties (:mod:`._props`) and frame features (:mod:`._lus`) then run as
whole-batch CuPy array operations. Results come back to the host once, at
the end, as NumPy arrays identical to the ``cpu`` backend's.

GPU-only options: none; the block size (:data:`._cuda_kernels.BLOCK`, 256
threads) is fixed and the shared-memory run capacity is chosen from the frame
size by :func:`._cuda_kernels.launch_plan`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._cuda_kernels import BLOCK, HULL_CAP, STAT_COLUMNS, build_kernels, launch_plan

__all__ = ["run_cuda", "label_stats_cuda", "run_cuda_kernels_only"]


def _shared_pass(kern, planes, img, has, n_classes, plan, n_planes):  # pragma: no cover - GPU only
    """All planes through the shared-memory kernel; grows the output until it fits."""
    import cupy as cp

    _, h, w = planes.shape
    kern.max_dynamic_shared_size_bytes = plan.smem
    cap = plan.output_rows(n_planes)
    while True:
        stats = cp.empty((cap, STAT_COLUMNS), cp.int64)
        hper = cp.zeros(cap, cp.float64)
        counter = cp.zeros(1, cp.uint64)
        overflow = cp.zeros(n_planes, cp.int32)
        cap_flag = cp.zeros(1, cp.int32)
        kern((n_planes,), (plan.block,),
             (planes, img, np.int32(has), np.int32(n_classes), np.int32(h), np.int32(w),
              np.int32(plan.rmax), stats, hper, counter, np.int64(cap), overflow, cap_flag),
             shared_mem=plan.smem)
        total = int(counter.get()[0])  # the one host sync of the batch
        if not int(cap_flag.get()[0]):
            return stats[:total], hper[:total], overflow
        cap = total + 1024


def _global_pass(kern_g, planes, img, has, n_classes, plan, redo):  # pragma: no cover - GPU only
    """The planes listed in ``redo`` through the global-memory fallback kernel."""
    import cupy as cp

    n_planes, h, w = planes.shape
    n_redo = int(redo.size)
    run_store = cp.empty(n_redo * 5 * plan.rmax_global, cp.int32)
    hull = cp.empty(n_redo * plan.hull_scratch_per_plane, cp.uint32)
    cap2 = plan.fallback_rows(n_redo)
    stats2 = cp.empty((cap2, STAT_COLUMNS), cp.int64)
    hper2 = cp.zeros(cap2, cp.float64)
    counter2 = cp.zeros(1, cp.uint64)
    flag2 = cp.zeros(1, cp.int32)
    kern_g.max_dynamic_shared_size_bytes = plan.smem_global
    kern_g((n_redo,), (plan.block,),
           (planes, img, np.int32(has), np.int32(n_classes), np.int32(h), np.int32(w), redo,
            run_store, hull, stats2, hper2, counter2, np.int64(cap2),
            cp.zeros(n_planes, cp.int32), flag2),
           shared_mem=plan.smem_global)
    t2 = int(counter2.get()[0])
    return stats2[:t2], hper2[:t2]


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
        Columns :data:`lusfeat.features._layout.COMPONENT_STATS`, as
        :func:`lusfeat.features._runs.plane_stats` returns them.
    hull_perimeter : (K,) float64 CuPy array
    """
    import cupy as cp

    n_planes, h, w = planes.shape
    if h > 1024 or w > 1024:
        from .._errors import InputError

        raise InputError(f"the cuda backend supports frames up to 1024x1024, got {h}x{w}")
    kern, kern_g = build_kernels(BLOCK, HULL_CAP)
    plan = launch_plan(h, w)
    has = images is not None
    img = images if has else cp.zeros((1, 1, 1), cp.uint8)
    stats, hper, overflow = _shared_pass(kern, planes, img, has, n_classes, plan, n_planes)
    keep = overflow[stats[:, 0]] == 0
    stats, hper = stats[keep], hper[keep]
    redo = cp.flatnonzero(overflow).astype(cp.int32)
    if redo.size:
        stats2, hper2 = _global_pass(kern_g, planes, img, has, n_classes, plan, redo)
        stats = cp.concatenate([stats, stats2])
        hper = cp.concatenate([hper, hper2])
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

    from ._lus import finish, pixel_stats
    from ._props import component_columns, finish_components

    dm = cp.ascontiguousarray(cp.asarray(masks))
    di = None if images is None else cp.ascontiguousarray(cp.asarray(images))
    n, c, h, w = dm.shape
    stats, hper = label_stats_cuda(dm.reshape(n * c, h, w).view(cp.uint8), di, c)
    cols = component_columns(stats, hper)
    sp = cp.asarray(spacing, dtype=cp.float64)
    raw = pixel_stats(dm, di, sp)
    frames = finish(raw, cols, sp, h, w, di is not None)
    comps = finish_components(cols, di is not None)
    return ({k: cp.asnumpy(v) for k, v in frames.items()},
            {k: cp.asnumpy(v) for k, v in comps.items()})
