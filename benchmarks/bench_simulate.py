"""Simulator throughput: frames/s at a given size on one core.

Usage: python benchmarks/bench_simulate.py [--size 256] [--clips 40] [--frames 8] [--annotators 3]

Prints generation-only frames/s per probe (in-memory, ``simulate_clip``), per wall
second and per CPU second of the process (the per-core rate even when other jobs
share the machine), and the
end-to-end rate of ``simulate_cohort`` including Zarr compression and writing,
as a table and as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import zarr  # noqa: F401  (imported before timing)

from lusfeat.data import simulate_cohort
from lusfeat.data._sim_annotators import make_annotators
from lusfeat.data._simulate import simulate_clip


def bench_generation(probe: str, size: int, clips: int, frames: int, annotators: int) -> tuple[float, float]:
    """Frames per wall second and per CPU second of the process (one thread)."""
    anns = make_annotators(np.random.default_rng(0), annotators)
    for warm in ("linear", "convex"):  # compile the numba kernels of both probes' paths first
        simulate_clip(np.random.default_rng(99), 2.0, warm, True, frames, size, anns)
    t, c = time.perf_counter(), time.process_time()
    for k in range(clips):
        rng = np.random.default_rng(k)
        simulate_clip(rng, float(rng.uniform(0, 5)), probe, bool(k % 2), frames, size, anns)
    n = clips * frames
    return n / (time.perf_counter() - t), n / (time.process_time() - c)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--clips", type=int, default=40)
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--annotators", type=int, default=3)
    args = ap.parse_args()
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:
        pass
    res = {}
    for probe in ("linear", "convex"):
        wall, cpu = bench_generation(probe, args.size, args.clips, args.frames, args.annotators)
        res[f"generate_{probe}_fps"], res[f"generate_{probe}_cpu_fps"] = wall, cpu
    for kind in ("fps", "cpu_fps"):
        res[f"generate_mixed_{kind}"] = 2 / (1 / res[f"generate_linear_{kind}"] + 1 / res[f"generate_convex_{kind}"])
    tmp = tempfile.mkdtemp()
    try:
        patients = max(1, args.clips // 12)
        t = time.perf_counter()
        path = simulate_cohort(
            os.path.join(tmp, "c"), patients=patients, exams=2, zones=6, frames=args.frames,
            size=args.size, annotators=args.annotators, seed=0,
        )
        dt = time.perf_counter() - t
        n = patients * 2 * 6 * args.frames
        res["end_to_end_fps"] = n / dt
        res["end_to_end_frames"] = n
        del path
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"simulator, {args.size}x{args.size}, {args.frames} frames/clip, {args.annotators} annotators, one core")
    print(f"{'measure':<28}{'frames/s':>10}")
    for k, v in res.items():
        if k.endswith("fps"):
            print(f"{k:<28}{v:>10.0f}")
    print(json.dumps({k: round(v, 1) for k, v in res.items()}))


if __name__ == "__main__":
    main()
