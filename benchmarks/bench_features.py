"""Benchmark the feature backends side by side on simulated masks.

Runs every available backend (``reference``, ``cpu``, ``cuda``) on the same
5-class masks from :func:`lusfeat.data.simulate_cohort` (truth masks and
images, 256x256 and 512x512), prints frames/s and the ratio to ``reference``,
and checks parity (cpu == reference, cuda == cpu) as it goes. With CuPy it
also times ``cupyx.scipy.ndimage.label`` on the whole stack and, when
installed, cuCIM ``regionprops_table`` frame by frame, and reports the
fraction of device-to-device copy bandwidth the cuda backend achieves.

Usage::

    python benchmarks/bench_features.py            # 256 and 512, a few minutes on CPU
    python benchmarks/bench_features.py --quick    # 256 only, fewer frames
    python benchmarks/bench_features.py --json results.json

Threads are pinned to one (numba, BLAS) so CPU figures are one-core figures.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402


def synthetic_masks(n: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """LUS-like 5-class masks drawn with NumPy only (for machines without the simulator's deps).

    Pleural line with breaks, A-lines at multiples of the pleural depth, vertical B-line
    bands, elliptical consolidations and an effusion; images are noise brightened by class.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    masks = np.zeros((n, 5, size, size), bool)
    for i in range(n):
        y0 = int(rng.uniform(0.12, 0.25) * size)
        th = max(2, size // 96)
        bend = rng.uniform(-0.03, 0.03) * size * ((xx - size / 2) / size) ** 2 * 4
        pl = (yy >= y0 + bend) & (yy < y0 + th + bend)
        for _ in range(rng.integers(0, 3)):
            x = rng.integers(0, size)
            pl &= ~((xx >= x) & (xx < x + rng.integers(2, size // 16 + 3)))
        masks[i, 0] = pl
        for k in (2, 3):
            if k * y0 + th < size and rng.random() < 0.6:
                x0, x1 = sorted(rng.integers(0, size, 2))
                masks[i, 1] |= (yy >= k * y0) & (yy < k * y0 + th) & (xx >= x0) & (xx <= x1)
        for _ in range(rng.integers(0, 6)):
            xc, half = rng.integers(0, size), rng.uniform(1.5, size / 40 + 2)
            widen = 1 + (yy - y0) / size
            masks[i, 2] |= (yy >= y0 + th) & (np.abs(xx - xc) <= half * widen)
        for _ in range(rng.integers(0, 3)):
            cy, cx = rng.uniform(y0 + th, size), rng.uniform(0, size)
            ry, rx = rng.uniform(3, size / 8), rng.uniform(3, size / 6)
            masks[i, 3] |= ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
        if rng.random() < 0.3:
            cy, cx = rng.uniform(0.7, 0.9) * size, rng.uniform(0, size)
            masks[i, 4] |= ((yy - cy) / (size / 12)) ** 2 + ((xx - cx) / (size / 4)) ** 2 <= 1
        masks[i, 1] &= ~masks[i, 2]
    weights = np.array([90, 60, 50, 40, -30])
    img = rng.integers(20, 80, (n, size, size)).astype(np.int64)
    img += np.tensordot(masks.astype(np.int64), weights, axes=([1], [0]))
    spacing = rng.choice([np.nan, 0.2, 0.3], n)
    return masks, np.clip(img, 0, 255).astype(np.uint8), spacing


def simulated(size: int, frames: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frames, 5, size, size) bool truth masks, images and spacing, tiled from a small cohort.

    Uses :func:`lusfeat.data.simulate_cohort`; falls back to :func:`synthetic_masks` where
    the simulator's dependencies (zarr) are missing.
    """
    try:
        import zarr  # noqa: F401
    except ImportError:
        m, img, sp = synthetic_masks(min(frames, 256), size, seed)
        reps = -(-frames // m.shape[0])
        return (np.tile(m, (reps, 1, 1, 1))[:frames], np.tile(img, (reps, 1, 1))[:frames],
                np.tile(sp, reps)[:frames])
    from lusfeat.data import open_cohort, simulate_cohort

    with tempfile.TemporaryDirectory() as tmp:
        path = simulate_cohort(Path(tmp) / "c", patients=2, exams=1, zones=6, frames=2, size=size,
                               probe="mixed", annotators=1, seed=seed)
        c = open_cohort(path)
        masks, images, spacing = np.asarray(c.truth[:]), np.asarray(c.images[:]), c.spacing
    reps = -(-frames // masks.shape[0])
    tile = np.tile
    return (np.ascontiguousarray(tile(masks, (reps, 1, 1, 1))[:frames]),
            np.ascontiguousarray(tile(images, (reps, 1, 1))[:frames]),
            tile(spacing, reps)[:frames].copy())


def _time(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def cuda_best_seconds(fn, repeat: int = 5) -> float:  # pragma: no cover - GPU only
    """Best of ``repeat`` CUDA-event timings of ``fn`` (seconds), after one warm-up call."""
    import cupy as cp

    start, stop = cp.cuda.Event(), cp.cuda.Event()
    fn()
    cp.cuda.Device().synchronize()
    best = float("inf")
    for _ in range(repeat):
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        best = min(best, cp.cuda.get_elapsed_time(start, stop) / 1000)
    return best


def skimage_baseline(masks: np.ndarray) -> dict:
    """scikit-image label + regionprops_table with the anchor's properties (no LUS features)."""
    from skimage.measure import label, regionprops_table

    props = ("area", "bbox", "centroid", "perimeter", "eccentricity", "orientation", "solidity",
             "axis_major_length", "axis_minor_length")
    t = time.perf_counter()
    for frame in masks:
        for plane in frame:
            regionprops_table(label(plane, connectivity=2), properties=props)
    dt = time.perf_counter() - t
    return {"frames": len(masks), "seconds": dt, "frames_per_s": len(masks) / dt,
            "note": "component properties only, the ANCHORS.md baseline"}


def bench_size(size: int, n_cpu: int, n_ref: int, n_gpu: int, repeat: int, seed: int) -> dict:
    from lusfeat.features import available_backends
    from lusfeat.features._compute import run_backend
    from lusfeat.testing import parity_problems

    masks, images, spacing = simulated(size, max(n_cpu, n_ref, n_gpu if "cuda" in available_backends() else 0), seed)
    res: dict = {"size": size, "classes": 5, "components_per_frame": None, "backends": {}}
    sub = slice(0, n_ref)
    t = time.perf_counter()
    ref_out = run_backend(masks[sub], images[sub], spacing[sub], "reference")
    t_ref = time.perf_counter() - t
    res["components_per_frame"] = len(ref_out[1]["label"]) / n_ref
    res["backends"]["reference"] = {"frames": n_ref, "seconds": t_ref, "frames_per_s": n_ref / t_ref}

    res["backends"]["skimage_regionprops_table"] = skimage_baseline(masks[sub])

    t = time.perf_counter()
    cpu_small = run_backend(masks[sub], images[sub], spacing[sub], "cpu")
    first_call = time.perf_counter() - t
    problems = parity_problems(ref_out, cpu_small)
    t_cpu = _time(lambda: run_backend(masks[:n_cpu], images[:n_cpu], spacing[:n_cpu], "cpu"), repeat)
    res["backends"]["cpu"] = {"frames": n_cpu, "seconds": t_cpu, "frames_per_s": n_cpu / t_cpu,
                              "first_call_s": first_call, "parity_vs_reference": problems or "ok"}

    if "cuda" in available_backends():
        res["backends"].update(bench_gpu(masks[:n_gpu], images[:n_gpu], spacing[:n_gpu], repeat,
                                         run_backend(masks[:n_gpu], images[:n_gpu], spacing[:n_gpu], "cpu")))
    for name, b in res["backends"].items():
        b["ratio_to_reference"] = b["frames_per_s"] / res["backends"]["reference"]["frames_per_s"]
        if name != "reference":
            b.setdefault("parity_vs_reference", b.get("parity_vs_reference"))
    return res


def bench_gpu(masks, images, spacing, repeat, cpu_out) -> dict:  # pragma: no cover - GPU only
    import cupy as cp

    from lusfeat.features._compute import run_backend
    from lusfeat.testing import parity_problems

    out: dict = {}
    n = masks.shape[0]
    dm, di = cp.asarray(masks), cp.asarray(images)

    def run():
        return run_backend(dm, di, spacing, "cuda")

    t = time.perf_counter()
    got = run()
    cp.cuda.Device().synchronize()
    first = time.perf_counter() - t
    problems = parity_problems(cpu_out, got)

    def timed(fn):
        return cuda_best_seconds(fn, repeat)

    t_cuda = timed(run)
    from lusfeat.features._cuda import run_cuda_kernels_only

    t_kern = timed(lambda: run_cuda_kernels_only(dm, di))
    big = cp.empty(1 << 30, dtype=cp.uint8)
    t_copy = timed(lambda: big.copy())
    copy_bw = 2 * big.nbytes / t_copy
    big = None
    bytes_in = dm.nbytes + di.nbytes
    out["cuda"] = {
        "device": cp.cuda.runtime.getDeviceProperties(0)["name"].decode(),
        "frames": n, "seconds": t_cuda, "frames_per_s": n / t_cuda, "first_call_s": first,
        "kernels_only_frames_per_s": n / t_kern,
        "input_GBps_kernels": bytes_in / t_kern / 1e9,
        "copy_bandwidth_GBps": copy_bw / 1e9,
        "fraction_of_copy_bandwidth": (bytes_in / t_kern) / copy_bw,
        "parity_vs_cpu": problems or "ok",
    }
    import cupyx.scipy.ndimage as cnd

    st = np.zeros((3, 3, 3), bool)
    st[1] = True
    planes = dm.reshape(-1, *dm.shape[2:])
    t_lab = timed(lambda: cnd.label(planes, structure=cp.asarray(st)))
    out["cupyx_label_stack"] = {"frames": n, "seconds": t_lab, "frames_per_s": n / t_lab,
                                "note": "label only, 8-connected in-plane"}
    try:
        from cucim.skimage.measure import label as clabel
        from cucim.skimage.measure import regionprops_table
    except ImportError:
        out["cucim"] = {"skipped": "cuCIM not installed"}
    else:
        k = min(n, 8)
        props = ("area", "bbox", "centroid", "perimeter", "eccentricity", "orientation", "solidity",
                 "axis_major_length", "axis_minor_length")

        def cu():
            for i in range(k):
                for c in range(dm.shape[1]):
                    regionprops_table(clabel(dm[i, c]), properties=props)
        t_cu = timed(cu)
        out["cucim"] = {"frames": k, "seconds": t_cu, "frames_per_s": k / t_cu}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="256x256 only, fewer frames")
    p.add_argument("--sizes", type=int, nargs="+", default=None)
    p.add_argument("--frames", type=int, default=None, help="frames for cpu (default 256, quick 64)")
    p.add_argument("--ref-frames", type=int, default=None, help="frames for reference (default 12, quick 4)")
    p.add_argument("--gpu-frames", type=int, default=20000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, default=None, help="also write results here")
    a = p.parse_args(argv)
    sizes = a.sizes or ([256] if a.quick else [256, 512])
    n_cpu = a.frames or (64 if a.quick else 256)
    n_ref = a.ref_frames or (4 if a.quick else 12)
    results = []
    print(f"{'size':>5} {'backend':<20} {'frames':>7} {'frames/s':>12} {'x reference':>12}  parity")
    for size in sizes:
        scale = (256 / size) ** 2
        r = bench_size(size, max(8, int(n_cpu * scale)), max(2, int(n_ref * scale)),
                       max(64, int(a.gpu_frames * scale)), a.repeat, a.seed)
        results.append(r)
        for name, b in r["backends"].items():
            if "frames_per_s" not in b:
                print(f"{size:>5} {name:<20} {b}")
                continue
            par = b.get("parity_vs_reference", b.get("parity_vs_cpu", ""))
            print(f"{size:>5} {name:<20} {b['frames']:>7} {b['frames_per_s']:>12.1f} "
                  f"{b.get('ratio_to_reference', float('nan')):>12.1f}  {par if par else ''}")
        print(f"      components per frame: {r['components_per_frame']:.1f}; cpu first call "
              f"(numba JIT or cache load): {r['backends']['cpu']['first_call_s']:.2f} s")
    if a.json:
        a.json.write_text(json.dumps(results, indent=2, default=str))
    bad = [r for r in results for b in r["backends"].values()
           if isinstance(b.get("parity_vs_reference", "ok"), list) or isinstance(b.get("parity_vs_cpu", "ok"), list)]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
