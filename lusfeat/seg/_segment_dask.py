"""Segmentation split over a Dask cluster: each task writes its own region of the mask arrays.

The mask arrays are created once in ``.OUT.parts/masks.zarr``; a task predicts
a span of whole chunks (a multiple of the batch size, so its batches equal
those of the in-process run) with the run's models, loaded once per worker
process, and writes that region. Its manifest entry lists the digest of every
chunk file it wrote and the chunks it left empty (all zero, so not stored);
:class:`lusfeat._scheduler.PartStore` trusts nothing else. When every part is
there, the arrays are moved into the final mask set with ``masks.json`` and
``chunks.json``.
"""

from __future__ import annotations

import functools
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._io import atomic_dir, fingerprint, write_json
from .._scheduler import PartStore, frame_spans, peak_rss_mb, run_parts, worker_cohort
from ..data._chunks import write_chunk_manifest
from ..data._format import CLASS_NAMES, create_frame_array
from ..data._masks import MASKS_ARRAYS, MASKS_FORMAT, MASKS_FORMAT_VERSION, MASKS_META
from ._device import resolve_device, thread_limit

__all__ = ["segment_parts", "MASK_CHUNK_FRAMES"]

#: Frames per chunk of the mask arrays written by tasks (as :class:`lusfeat.data.MaskWriter`).
MASK_CHUNK_FRAMES = 32
_ARRAYS = ("masks", "probabilities")


@functools.lru_cache(maxsize=2)
def _worker_models(run: str, run_fp: str, device: str, folds: int, compile: bool) -> tuple[list, torch.device]:
    from ._segment import load_models

    dev = resolve_device(device)
    return load_models(run, folds, dev, compile), dev


def _chunk_paths(store: PartStore, name: str, lo: int, hi: int) -> list[Path]:
    base = store.root / MASKS_ARRAYS / name / "c"
    return [base / str(i) / "0" / "0" / "0" for i in range(lo // MASK_CHUNK_FRAMES,
                                                           math.ceil(hi / MASK_CHUNK_FRAMES))]


def _segment_task(cohort: str, cohort_fp: str, run: str, run_fp: str, device: str, batch_size: int,
                  threshold: float, threads: int | None, compile: bool, foreign: bool, lo: int, hi: int,
                  part: int, out: str, key: str) -> dict[str, Any]:
    """Predict frames ``lo:hi`` and write their region; runs on a worker."""
    import zarr

    from ._segment import frame_folds, open_run, predict_span

    cpu0, wall0 = time.process_time(), time.perf_counter()
    c = worker_cohort(cohort, cohort_fp)
    meta, fold_table = open_run(run)
    frame_fold, _ = frame_folds(c, fold_table, int(meta["folds"]), foreign=foreign)
    store = PartStore(out, key)
    cut = np.uint8(round(255 * threshold))
    timer = [0.0]
    h, w = c.shape
    probs = np.empty((hi - lo, len(c.class_names), h, w), np.uint8)  # the span: whole chunks, one write
    with thread_limit(threads or 1):
        models, dev = _worker_models(run, run_fp, device, int(meta["folds"]), compile)
        for start, p in predict_span(models, c, frame_fold, lo, hi, batch_size, dev, timer):
            probs[start - lo : start - lo + p.shape[0]] = p.cpu().numpy()
    paths = [p for name in _ARRAYS for p in _chunk_paths(store, name, lo, hi)]
    for p in paths:  # what a killed attempt left there is never read back
        p.unlink(missing_ok=True)
    arrays = [zarr.open_array(str(store.root / MASKS_ARRAYS / name), mode="r+") for name in _ARRAYS]
    arrays[0][lo:hi] = probs >= cut
    arrays[1][lo:hi] = probs
    info = {"frames": hi - lo, "model_s": timer[0], "task_s": time.perf_counter() - wall0,
            "cpu_s": time.process_time() - cpu0, "peak_rss_mb": peak_rss_mb(), "pid": os.getpid()}
    store.commit(part, [p for p in paths if p.exists()], [p for p in paths if not p.exists()], **info)
    return info


def segment_parts(
    cohort: Any, run: Any, meta: dict[str, Any], foreign: bool, out: Path, dev: torch.device,
    batch_size: int, threshold: float, threads: int | None, compile: bool, spec: Any, progress: bool,
    overwrite: bool, finish_meta: Callable[[float, dict[str, Any]], dict[str, Any]],
) -> None:
    """Predict every frame on a cluster and write the mask set ``out``.

    Parameters
    ----------
    cohort : Cohort
    run : path-like
    meta : dict
        The run's ``run.json``.
    foreign : bool
        The run was trained on another cohort: every frame is predicted by the fold
        ensemble (each worker takes the model of every frame from
        :func:`lusfeat.seg._segment.frame_folds`).
    out : Path
    dev : torch.device
        Device name the workers resolve for themselves.
    batch_size, threshold, threads, compile
        As :func:`lusfeat.seg.segment` (``threads`` per worker, default 1).
    spec : SchedulerSpec or distributed.Client
    progress, overwrite : bool
    finish_meta : callable
        ``finish_meta(model_seconds, extra)`` -> the ``masks.json`` entries.
    """
    n, (h, w) = cohort.n_frames, cohort.shape
    spans = frame_spans(n, MASK_CHUNK_FRAMES, batch_size)
    key = fingerprint("segment-parts", cohort.fingerprint, meta["fingerprint"], threshold, dev.type, batch_size,
                      compile, threads, spans)
    store = PartStore(out, key)
    done = store.open()
    _create_arrays(store, (n, len(CLASS_NAMES), h, w))
    # on a CUDA cluster every worker sees its own GPU as its only device
    calls = [(str(cohort.path), cohort.fingerprint, str(run), meta["fingerprint"], dev.type, batch_size, threshold,
              threads, compile, foreign, lo, hi, i, str(out), key) for i, (lo, hi) in enumerate(spans)
             if i not in done]
    t0 = time.perf_counter()
    run_parts(store, spec, _segment_task, calls, label="segment", progress=progress, total=n,
              done=sum(hi - lo for i, (lo, hi) in enumerate(spans) if i in done), gpu=dev.type == "cuda")
    entries = [store.entry(i) for i in range(len(spans))]
    peaks: dict[str, float] = {}
    for e in entries:
        peaks[str(e["pid"])] = max(peaks.get(str(e["pid"]), 0.0), float(e["peak_rss_mb"]))
    extra = {"scheduler": {"address": str(spec) if not hasattr(spec, "submit") else "client",
                           "parts": len(spans), "reused_parts": len(done), "frames_per_part": spans[0][1],
                           "cluster_s": time.perf_counter() - t0,
                           "task_s": sum(float(e.get("task_s", 0.0)) for e in entries),
                           "task_cpu_s": sum(float(e.get("cpu_s", 0.0)) for e in entries),
                           "peak_rss_mb_per_worker": peaks}}
    _finish(store, out, (n, len(CLASS_NAMES), h, w), finish_meta(sum(e["model_s"] for e in entries), extra),
            overwrite)


def _create_arrays(store: PartStore, shape: tuple[int, ...]) -> None:
    import zarr

    where = store.root / MASKS_ARRAYS
    if all((where / name / "zarr.json").exists() for name in _ARRAYS):
        return
    group = zarr.open_group(str(where), mode="w")
    create_frame_array(group, "masks", shape, "bool", MASK_CHUNK_FRAMES)
    create_frame_array(group, "probabilities", shape, "uint8", MASK_CHUNK_FRAMES)


def _finish(store: PartStore, out: Path, shape: tuple[int, ...], meta: dict[str, Any], overwrite: bool) -> None:
    """Move the arrays into the mask set ``out`` with ``masks.json`` and ``chunks.json``."""
    import zarr

    with atomic_dir(out, overwrite=overwrite) as tmp:
        os.replace(store.root / MASKS_ARRAYS, tmp / MASKS_ARRAYS)
        try:
            write_json(tmp / MASKS_META, {
                "format": MASKS_FORMAT, "format_version": MASKS_FORMAT_VERSION, "classes": list(CLASS_NAMES),
                "n_frames": shape[0], "height": shape[2], "width": shape[3], "has_probabilities": True, **meta})
            arrays = [(name, zarr.open_array(str(tmp / MASKS_ARRAYS / name), mode="r")) for name in _ARRAYS]
            write_chunk_manifest(tmp, MASKS_ARRAYS, arrays)
        except BaseException:
            os.replace(tmp / MASKS_ARRAYS, store.root / MASKS_ARRAYS)  # keep the parts for a rerun
            raise
    store.remove()
