"""Scale-out benchmark: features and segmentation on 1 and 2 local Dask workers.

Builds a Zarr archive of at least ``--frames`` frames at 256x256 by tiling a small
simulated cohort: the base cohort's compressed chunk files are hard-linked
over and over (so the archive costs no extra disk space and stays compressed
on disk), with a frame and clinical table of distinct patients per tile. Then

- **features** (``cpu`` backend, masks = the tiled truth masks): in process,
  on a ``LocalCluster`` with 1 worker and with 2 workers (one thread each);
- **segment** (a small U-Net trained for one epoch, ``--segment-frames``
  frames): in process with one thread, 1 worker and 2 workers;

and reports frames/s (tasks only, the cluster started beforehand, and end to
end including the gather of the parts), the scaling efficiency
``fps(2) / (2 fps(1))``, the peak resident memory of every worker process
(``ru_maxrss``, the worker's imports included) and whether the tables (masks)
are identical to the in-process run.

First it measures the machine's own ceiling: the same feature kernels on masks
held in memory, and register-only arithmetic, in one process and in two at once
(no Dask, no Zarr). On a virtual machine whose two CPUs share a physical core
that ratio stays well under 2, and no scheduler can scale past it.

Usage::

    python benchmarks/bench_scale.py --ceiling-only        # the ceiling alone, about 1 minute
    python benchmarks/bench_scale.py                       # 100,000 frames, about 6-8 minutes on 2 cores
    python benchmarks/bench_scale.py --frames 20000 --segment-frames 1024 --json scale.json
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

#: Base cohort: 8 patients x 2 exams x 6 zones x 4 frames = 384 frames (a multiple of the 16-frame chunks).
BASE = dict(patients=8, exams=2, zones=6, frames=4, annotators=1, probe="mixed", seed=11)
_SUFFIXED = ("frame_id", "patient_id", "exam_id", "clip_id")


def tile_cohort(base: Path, out: Path, n_min: int) -> Path:
    """A cohort of ``ceil(n_min / n0) * n0`` frames whose chunks are hard links to ``base``'s.

    Parameters
    ----------
    base : Path
        A cohort whose frame count ``n0`` is a multiple of its chunk size.
    out : Path
        Folder to create.
    n_min : int
        Minimum number of frames.
    """
    meta = json.loads((base / "cohort.json").read_text())
    frames = pd.read_parquet(base / "frames.parquet").sort_values("array_index").reset_index(drop=True)
    clinical = pd.read_parquet(base / "clinical.parquet")
    n0 = len(frames)
    tiles = math.ceil(n_min / n0)
    out.mkdir(parents=True)
    parts, clin = [], []
    for t in range(tiles):
        f = frames.copy()
        for col in _SUFFIXED:
            f[col] = f[col].astype(str) + f"-t{t}"
        f["array_index"] = f["array_index"] + t * n0
        parts.append(f)
        c = clinical.copy()
        c["patient_id"] = c["patient_id"].astype(str) + f"-t{t}"
        c["exam_id"] = c["exam_id"].astype(str) + f"-t{t}"
        clin.append(c)
    pd.concat(parts, ignore_index=True).to_parquet(out / "frames.parquet", index=False)
    pd.concat(clin, ignore_index=True).to_parquet(out / "clinical.parquet", index=False)
    meta.update(n_frames=n0 * tiles, tiled={"base": str(base), "tiles": tiles})
    meta.get("simulation", {}).pop("exam_severity", None)
    (out / "cohort.json").write_text(json.dumps(meta, indent=2))
    _tile_arrays(base / "arrays.zarr", out / "arrays.zarr", tiles, n0)
    return out


def _tile_arrays(src: Path, dst: Path, tiles: int, n0: int) -> None:
    shutil.copytree(src, dst, ignore=lambda d, names: [n for n in names if n == "c"])
    for arr in (p for p in src.iterdir() if p.is_dir()):
        spec = json.loads((arr / "zarr.json").read_text())
        cf = int(spec["chunk_grid"]["configuration"]["chunk_shape"][0])
        spec["shape"][0] = n0 * tiles
        (dst / arr.name / "zarr.json").write_text(json.dumps(spec, indent=2))
        per_tile = n0 // cf
        for chunk in (arr / "c").rglob("*"):
            if not chunk.is_file():
                continue
            rel = chunk.relative_to(arr / "c")
            i, rest = int(rel.parts[0]), Path(*rel.parts[1:])
            for t in range(tiles):
                target = dst / arr.name / "c" / str(t * per_tile + i) / rest
                target.parent.mkdir(parents=True, exist_ok=True)
                os.link(chunk, target)


def _disk_mb(path: Path) -> float:
    """Bytes on disk of a folder, counting each hard-linked file once."""
    seen, total = set(), 0
    for f in path.rglob("*"):
        if f.is_file():
            st = f.stat()
            if st.st_ino not in seen:
                seen.add(st.st_ino)
                total += st.st_size
    return total / 1e6


def _same_tables(a: Path, b: Path) -> bool:
    from lusfeat.features._extract import FILES

    for name in FILES.values():
        try:
            pd.testing.assert_frame_equal(pd.read_parquet(a / name), pd.read_parquet(b / name))
        except AssertionError as exc:
            print(f"  tables differ in {name}: {str(exc).splitlines()[0]}")
            return False
    return True


def _same_masks(a: Path, b: Path) -> bool:
    from lusfeat.data import open_masks

    ma, mb = open_masks(a), open_masks(b)
    n = ma.n_frames
    return all(np.array_equal(ma.probabilities[s : s + 256], mb.probabilities[s : s + 256])
               for s in range(0, n, 256))


class _ClientMemory:
    """Peak memory this process allocates on top of what it held before a block (sampled every 20 ms).

    Counts bytes in use, not resident pages (the allocator settings keep freed pages resident):
    glibc's ``mallinfo2`` (heap and mmapped blocks) plus pyarrow's memory pool; falls back to the
    resident set where ``mallinfo2`` is missing.
    """

    def __enter__(self) -> _ClientMemory:
        import threading

        self.base = self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    @staticmethod
    def _rss() -> float:
        import ctypes

        try:
            import pyarrow as pa

            arrow = pa.total_allocated_bytes()
        except ImportError:
            arrow = 0
        try:
            class _Info(ctypes.Structure):
                _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd",
                                                           "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

            fn = ctypes.CDLL("libc.so.6").mallinfo2
            fn.restype = _Info
            info = fn()
            return (info.uordblks + info.hblkhd + arrow) / 1e6
        except (OSError, AttributeError):
            try:
                return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
            except OSError:
                return float("nan")

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self._rss())

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())

    @property
    def gained_mb(self) -> float:
        return self.peak - self.base


def _timed(fn, *args, **kwargs) -> tuple[Path, float]:
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def _warm_up() -> None:
    """Import the stages and compile the numba kernels once in a worker (timed as start-up)."""
    import lusfeat.seg  # noqa: F401
    from lusfeat.features import compute

    masks = np.zeros((2, 5, 32, 32), bool)
    masks[:, 2, 4:20, 8:11] = True
    compute(masks, np.zeros((2, 32, 32), np.uint8), 0.2, backend="cpu")


def _on_cluster(workers: int, fn, *args, **kwargs) -> dict:
    """Run ``fn(..., scheduler=client)`` on a fresh local cluster; time the call without the start-up
    (cluster start, imports and numba compilation in every worker)."""
    from lusfeat._scheduler import SchedulerSpec, dask_client

    t0 = time.perf_counter()
    with dask_client(SchedulerSpec("local", workers=workers)) as client:
        client.run(_warm_up)
        start_s = time.perf_counter() - t0
        with _ClientMemory() as mem:
            out, wall = _timed(fn, *args, scheduler=client, **kwargs)
    return {"out": out, "wall_s": wall, "startup_s": start_s, "client_mb": mem.gained_mb}


def bench_features(cohort: Path, root: Path, batch: int) -> dict:
    """Features in process and on 1 and 2 workers; frames/s, efficiency, memory, equality."""
    from lusfeat.data import open_cohort
    from lusfeat.features import extract

    n = open_cohort(cohort).n_frames
    _warm_up()
    ref, wall0 = _timed(extract, cohort, "truth", root / "f_inproc", backend="cpu", batch=batch, progress=False)
    rows = [{"run": "in process", "workers": 0, "wall_s": wall0, "frames_per_s": n / wall0,
             "peak_rss_mb": None, "identical": True, "load_1min": os.getloadavg()[0]}]
    for w in (1, 2):
        r = _on_cluster(w, extract, cohort, "truth", root / f"f_local{w}", backend="cpu", batch=batch,
                        progress=False)
        meta = json.loads((r["out"] / "features.json").read_text())
        sched = meta["scheduler"]
        rows.append({"run": f"local:{w}", "workers": w, "wall_s": r["wall_s"], "startup_s": r["startup_s"],
                     "frames_per_s": n / r["wall_s"], "task_cpu_s": sched["task_cpu_s"], "task_s": sched["task_s"],
                     "compute_frames_per_s": meta["timings"]["frames_per_s"],
                     "tables_s": meta["timings"].get("tables_s"), "client_mb": r["client_mb"],
                     "peak_rss_mb": max(sched["peak_rss_mb_per_worker"].values()),
                     "identical": _same_tables(ref, r["out"]), "load_1min": os.getloadavg()[0]})
        shutil.rmtree(r["out"])
    return {"frames": n, "rows": rows}


def bench_segment(base: Path, cohort: Path, root: Path, batch: int) -> dict:
    """Segment with a small U-Net in process (1 thread) and on 1 and 2 workers (1 thread each)."""
    from lusfeat.data import open_cohort
    from lusfeat.seg import UNetConfig, segment, train

    run = train(base, root / "run", "threshold:60", epochs=1, size=64, model=UNetConfig(depth=3, width=8),
                batch_size=16, threads=2, device="cpu", progress=False)
    n = open_cohort(cohort).n_frames
    kw = dict(batch_size=batch, threads=1, device="cpu", allow_foreign=True, progress=False)
    ref, wall0 = _timed(segment, cohort, run, root / "m_inproc", **kw)
    rows = [{"run": "in process (1 thread)", "workers": 0, "wall_s": wall0, "frames_per_s": n / wall0,
             "peak_rss_mb": None, "identical": True, "load_1min": os.getloadavg()[0]}]
    for w in (1, 2):
        r = _on_cluster(w, segment, cohort, run, root / f"m_local{w}", **kw)
        from lusfeat.data import open_masks

        meta = open_masks(r["out"]).meta["scheduler"]
        rows.append({"run": f"local:{w}", "workers": w, "wall_s": r["wall_s"], "startup_s": r["startup_s"],
                     "frames_per_s": n / r["wall_s"], "task_cpu_s": meta["task_cpu_s"], "task_s": meta["task_s"],
                     "peak_rss_mb": max(meta["peak_rss_mb_per_worker"].values()),
                     "identical": _same_masks(ref, r["out"]), "load_1min": os.getloadavg()[0]})
        shutil.rmtree(r["out"])
    return {"frames": n, "model": "U-Net depth 3, width 8, trained at 64x64 (predictions resized to 256x256)",
            "rows": rows}


def _ceiling_worker(args: tuple[str, int, int, float]) -> tuple[float, int]:
    """Run one kind of work for about ``seconds`` after ``start`` (a shared wall-clock time); units done."""
    kind, n_frames, seed, start = args
    import numpy as np

    if kind == "features":
        from lusfeat.features import compute
        from lusfeat.testing import random_masks

        masks = random_masks(np.random.default_rng(seed), n_frames, 256, 256)
        compute(masks[:2], backend="cpu")  # compile outside the timed part
        work = lambda: compute(masks, backend="cpu")  # noqa: E731
    else:  # arithmetic in registers: no memory traffic at all
        import numba

        @numba.njit(cache=False)
        def spin(n: int) -> int:
            h = 0
            for i in range(n):
                h = (h * 1_103_515_245 + i) & 0x7FFFFFFF
            return h

        spin(10)
        work = lambda: spin(20_000_000)  # noqa: E731
    while time.time() < start:  # start together
        time.sleep(0.001)
    t0, units = time.perf_counter(), 0
    while time.perf_counter() - t0 < 8.0:
        work()
        units += 1
    return time.perf_counter() - t0, units


def machine_ceiling(frames: int = 256) -> list[dict]:
    """What two processes get from this machine without Dask or Zarr: the feature kernels on masks in
    memory, and register-only arithmetic, in 1 and in 2 processes at once (units per second)."""
    import multiprocessing as mp

    rows = []
    ctx = mp.get_context("spawn")
    for kind in ("arithmetic", "features"):
        rate = {}
        for procs in (1, 2):
            with ctx.Pool(procs) as pool:
                start = time.time() + 8.0  # the workers import and compile first
                out = pool.map(_ceiling_worker, [(kind, frames, i, start) for i in range(procs)])
            rate[procs] = sum(units / secs for secs, units in out)
        rows.append({"work": kind, "rate_1": rate[1], "rate_2": rate[2], "ratio": rate[2] / rate[1],
                     "load_1min": os.getloadavg()[0]})
    return rows


def _efficiency(rows: list[dict]) -> float:
    one = next(r for r in rows if r["workers"] == 1)["frames_per_s"]
    two = next(r for r in rows if r["workers"] == 2)["frames_per_s"]
    return two / (2 * one)


def _print(title: str, res: dict) -> None:
    print(f"\n{title}: {res['frames']:,} frames at 256x256")
    print(f"  {'run':<24}{'wall s':>9}{'frames/s':>11}{'task CPU s':>12}{'peak MB/worker':>16}{'load':>6}  identical")
    for r in res["rows"]:
        peak = "" if r["peak_rss_mb"] is None else f"{r['peak_rss_mb']:.0f}"
        cpu = "" if r.get("task_cpu_s") is None else f"{r['task_cpu_s']:.1f}"
        print(f"  {r['run']:<24}{r['wall_s']:>9.1f}{r['frames_per_s']:>11.0f}{cpu:>12}{peak:>16}"
              f"{r['load_1min']:>6.1f}  {r['identical']}")
    one = next(r for r in res["rows"] if r["workers"] == 1)["frames_per_s"]
    two = next(r for r in res["rows"] if r["workers"] == 2)["frames_per_s"]
    print(f"  2 workers / 1 worker: {two / one:.2f}x (scaling efficiency {res['efficiency']:.0%}); "
          f"cluster start-up excluded")
    for r in res["rows"]:
        if r.get("client_mb") is not None:
            tables = "" if r.get("tables_s") is None else f"tables written in {r['tables_s']:.1f} s, "
            print(f"  {r['run']}: client {tables}memory gained {r['client_mb']:.0f} MB")


def main(argv: list[str] | None = None) -> int:
    """Build the archive, run both benchmarks, print the tables and write JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=100_000, help="minimum frames of the features archive")
    ap.add_argument("--segment-frames", type=int, default=2304, help="minimum frames of the segment cohort")
    ap.add_argument("--batch", type=int, default=512, help="frames per feature task")
    ap.add_argument("--segment-batch", type=int, default=64, help="frames per forward pass")
    ap.add_argument("--json", type=Path, default=None, help="write the results here")
    ap.add_argument("--keep", type=Path, default=None, help="work in this folder and keep it")
    ap.add_argument("--only", choices=("features", "segment"), default=None, help="run one of the two benchmarks")
    ap.add_argument("--ceiling-only", action="store_true",
                    help="only measure what 2 processes get from this machine (no Dask, no Zarr)")
    args = ap.parse_args(argv)
    from lusfeat._memory import tune_process

    tuned = tune_process()  # as `lusfeat` commands run (LUSFEAT_MALLOC=default: glibc's own)
    print(f"allocator: {'lusfeat settings' if tuned else 'glibc defaults'}")
    ceiling = machine_ceiling()
    print("machine ceiling (no Dask, no Zarr): 2 processes at once / 1 process")
    for r in ceiling:
        print(f"  {r['work']:<12} {r['ratio']:.2f}x  (load {r['load_1min']:.1f})")
    if args.ceiling_only:
        if args.json is not None:
            args.json.write_text(json.dumps({"machine_ceiling": ceiling}, indent=2))
        return 0
    from lusfeat.data import simulate_cohort

    root = Path(tempfile.mkdtemp(prefix="lusfeat-scale-")) if args.keep is None else args.keep
    root.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        load0 = os.getloadavg()
        base = simulate_cohort(root / "base", size=256, **BASE)
        big = tile_cohort(base, root / "archive", args.frames)
        small = tile_cohort(base, root / "seg_cohort", args.segment_frames)
        setup = {"seconds": time.perf_counter() - t0, "archive_disk_mb": _disk_mb(big / "arrays.zarr"),
                 "base_frames": int(json.loads((base / "cohort.json").read_text())["n_frames"])}
        print(f"archive: {json.loads((big / 'cohort.json').read_text())['n_frames']:,} frames, "
              f"{setup['archive_disk_mb']:.0f} MB on disk (compressed, tiled by hard links), "
              f"built in {setup['seconds']:.0f} s; load average {os.getloadavg()[0]:.1f}")
        feats = seg = None
        if args.only in (None, "features"):
            feats = bench_features(big, root, args.batch)
            feats["efficiency"] = _efficiency(feats["rows"])
            _print("features (cpu backend)", feats)
        if args.only in (None, "segment"):
            seg = bench_segment(base, small, root, args.segment_batch)
            seg["efficiency"] = _efficiency(seg["rows"])
            _print("segment", seg)
        result = {"machine": {"cpus": os.cpu_count(), "load_average_start": load0,
                              "load_average_end": os.getloadavg()}, "machine_ceiling": ceiling, "setup": setup,
                  "features": feats, "segment": seg}
        if args.json is not None:
            args.json.write_text(json.dumps(result, indent=2, default=str))
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
