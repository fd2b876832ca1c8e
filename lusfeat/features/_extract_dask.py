"""Feature extraction split over a Dask cluster: one Parquet part per span of frames.

Each task opens the cohort and the mask source itself (once per worker process),
reads its frames straight from the Zarr store, computes their features with the
chosen backend and writes two Parquet parts (frame features, components) that
the :class:`lusfeat._scheduler.PartStore` manifest then vouches for. The client
only gathers the parts (small: about 100 float64 values per frame) and
aggregates them to clip, zone, exam and patient with the same code as the
in-process path, so the tables are identical.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._errors import InputError
from .._io import fingerprint
from .._masks import MaskSource
from .._scheduler import PartStore, frame_spans, peak_rss_mb, run_parts, worker_cohort
from ..data._format import Cohort

__all__ = ["extract_parts"]


def _part_task(cohort: str, cohort_fp: str, masks: MaskSource, staple_table: np.ndarray | None,
               allow_foreign: bool, backend: str, start: int, stop: int, part: int, out: str,
               key: str) -> dict[str, Any]:
    """Compute and write part ``part`` (frames ``start:stop``); runs on a worker."""
    from ._compute import resolve_backend
    from ._extract import _MaskReader, compute_batch

    cpu0, wall0 = time.process_time(), time.perf_counter()
    c = worker_cohort(cohort, cohort_fp)
    src = _MaskReader(c, masks, allow_foreign=allow_foreign, staple_table=staple_table)
    t0 = time.perf_counter()
    b = resolve_backend(backend)
    # On the CPU one Zarr chunk at a time: a task's few hundred frames read at once are
    # hundreds of MB of fresh pages whose faults cost more than decoding them (GPUs want the span).
    step = stop - start if b.value == "cuda" else _chunk_frames(src, c)
    pieces = [compute_batch(src.batch(lo, min(lo + step, stop)), np.asarray(c.images[lo : min(lo + step, stop)]),
                            c.spacing[lo : min(lo + step, stop)], lo, b) for lo in range(start, stop, step)]
    frames = pd.concat([f for f, _ in pieces], ignore_index=True)
    comps = pd.concat([k for _, k in pieces], ignore_index=True)
    compute_s = time.perf_counter() - t0
    store = PartStore(out, key)
    files = [store.write_parquet(part, "frames.parquet", frames),
             store.write_parquet(part, "components.parquet", comps)]
    info = {"frames": stop - start, "compute_s": compute_s, "task_s": time.perf_counter() - wall0,
            "cpu_s": time.process_time() - cpu0, "peak_rss_mb": peak_rss_mb(), "pid": os.getpid()}
    store.commit(part, files, **info)
    return info


def _chunk_frames(src: Any, c: Cohort) -> int:
    """Frames of one whole chunk of both the mask source and the images (their least common multiple)."""
    return math.lcm(int(src.array.chunks[0]), int(c.images.chunks[0]))


def extract_parts(
    c: Cohort, src: Any, sink: Any, out: Path, batch: int, spec: Any, allow_foreign: bool, progress: bool,
) -> dict[str, Any]:
    """Compute the features of every frame on a cluster and load them into ``sink``.

    Parameters
    ----------
    c : Cohort
    src : _MaskReader
        The opened mask source: the workers reopen its :class:`~lusfeat._masks.MaskSource`
        (an in-memory array cannot be sent to them).
    sink : FeatureSink
        Receives the parts in frame order.
    out : Path
        The final feature folder (its parts live in ``.OUT.parts/``).
    batch : int
        Frames per task, rounded up to whole chunks of the mask source and images.
    spec : SchedulerSpec or distributed.Client
    allow_foreign, progress : bool

    Returns
    -------
    dict
        The ``scheduler`` entry of ``features.json``: address, parts, reused parts,
        frames per part, the seconds and CPU seconds of all tasks together and the
        peak memory (MB) per worker process.
    """
    if src.kind == "array":  # in memory, or nnU-Net predictions read into memory
        raise InputError("--scheduler needs masks stored on disk (truth, labels:T or a mask-set folder); "
                         "an in-memory array is computed in process (scheduler=None)")
    base = _chunk_frames(src, c)
    step = base * max(1, math.ceil(batch / base))
    spans = frame_spans(c.n_frames, step)
    key = fingerprint("features-parts", c.fingerprint, src.describe(), sink.backend.value, spans)
    store = PartStore(out, key)
    done = store.open()
    calls = [(str(c.path), c.fingerprint, src.source, src.staple_table, allow_foreign, sink.backend.value, lo, hi,
              i, str(out), key) for i, (lo, hi) in enumerate(spans) if i not in done]
    run_parts(store, spec, _part_task, calls, label=f"features ({sink.backend.value})", progress=progress,
              total=c.n_frames, done=sum(hi - lo for i, (lo, hi) in enumerate(spans) if i in done),
              gpu=sink.backend.value == "cuda")
    peaks: dict[str, float] = {}
    task_s = cpu_s = 0.0
    for i in range(len(spans)):
        entry = store.entry(i)
        task_s, cpu_s = task_s + float(entry.get("task_s", 0.0)), cpu_s + float(entry.get("cpu_s", 0.0))
        sink.add_part(store.file(i, "frames.parquet"), store.file(i, "components.parquet"))
        sink.compute_s += float(entry["compute_s"])
        pid = str(entry["pid"])
        peaks[pid] = max(peaks.get(pid, 0.0), float(entry["peak_rss_mb"]))
    return {"scheduler": {"address": str(spec) if not hasattr(spec, "submit") else "client",
                          "parts": len(spans), "reused_parts": len(done), "frames_per_part": step,
                          "task_s": task_s, "task_cpu_s": cpu_s,
                          "peak_rss_mb_per_worker": peaks}}
