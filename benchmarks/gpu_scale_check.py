"""GPU checks of the scale-out path: masks handed from the U-Net to the CuPy feature kernels
on the device, and a dask-cuda run with one worker.

Run from the repository root on a CUDA machine (installs nothing)::

    OUT=/tmp/gpu_out python benchmarks/gpu_scale_check.py

Parts, each skipped with a printed reason when what it needs is missing:

1. **hand-off** (torch, CuPy): LUS-like masks ``(N, 5, 256, 256) bool`` as a CUDA
   torch tensor, viewed as a CuPy array through DLPack (the check asserts that no
   copy was made) and fed to the ``cuda`` backend, exactly as ``lusfeat segment
   --features`` does; parity with the ``cpu`` backend on the host copy
   (``reference`` when numba is missing); frames/s with the hand-off and with
   a host round trip (device -> host -> device) for comparison; U-Net inference
   frames/s at 256x256 for scale.
2. **dask-cuda** (dask, distributed, dask_cuda, zarr): a tiny simulated cohort,
   features with ``--scheduler local`` on a ``LocalCUDACluster`` of one worker
   against the in-process ``cuda`` run (tables must be identical).

Writes ``gpu_scale.json`` and ``gpu_scale.txt`` under ``$OUT`` (default
``./gpu_out``). ``--cpu`` runs the same code paths on the CPU (device ``cpu``,
backend ``cpu``) to check the script itself on a machine without a GPU. Exit
status 1 when a part that ran failed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def _missing(*mods: str) -> list[str]:
    out = []
    for m in mods:
        try:
            if importlib.util.find_spec(m) is None:
                out.append(m)
        except (ImportError, ValueError):
            out.append(m)
    return out


def _max_diff(a: dict, b: dict, names: list[str]) -> float:
    worst = 0.0
    for k in names:
        x, y = np.asarray(a[k], np.float64), np.asarray(b[k], np.float64)
        if x.shape != y.shape or not np.array_equal(np.isnan(x), np.isnan(y)):
            return float("inf")
        ok = ~np.isnan(x)
        if ok.any():
            worst = max(worst, float(np.max(np.abs(x[ok] - y[ok]) / np.maximum(1.0, np.abs(x[ok])))))
    return worst


def _sync(device: str) -> None:
    if device == "cuda":
        import torch

        torch.cuda.synchronize()


def check_handoff(n: int, cpu_only: bool) -> dict:
    """Hand-off parity, zero-copy and frames/s (see the module docstring)."""
    import torch
    from bench_features import synthetic_masks

    from lusfeat.features._compute import FRAME_NAMES, Backend, run_backend
    from lusfeat.features._extract import _as_array

    device, backend = ("cpu", Backend.CPU) if cpu_only else ("cuda", Backend.CUDA)
    masks, images, spacing = synthetic_masks(n, 256, seed=3)
    ref_backend = "cpu" if not _missing("numba") else "reference"
    ref = run_backend(masks[:64], images[:64], spacing[:64], ref_backend)
    t_masks = torch.from_numpy(masks).to(device)
    t_images = torch.from_numpy(images).to(device)
    view = _as_array(t_masks, backend)
    zero_copy = (int(view.data.ptr) == int(t_masks.data_ptr())) if device == "cuda" else True
    img = _as_array(t_images, backend)
    got = run_backend(view[:64], img[:64], spacing[:64], backend)
    worst = _max_diff(ref[0], got[0], list(FRAME_NAMES))
    run_backend(view, img, spacing, backend)  # warm-up at full size
    _sync(device)
    t0 = time.perf_counter()
    run_backend(_as_array(t_masks, backend), img, spacing, backend)
    _sync(device)
    t_hand = time.perf_counter() - t0
    t0 = time.perf_counter()
    host = t_masks.cpu().numpy()  # the round trip the hand-off avoids
    run_backend(host if device == "cpu" else _to_device(host), img, spacing, backend)
    _sync(device)
    t_round = time.perf_counter() - t0
    return {"device": device, "backend": backend.value, "frames": n, "zero_copy": bool(zero_copy),
            "parity_reference": ref_backend, "max_rel_diff_frame_features": worst,
            "parity_ok": bool(worst <= 1e-6), "handoff_frames_per_s": n / t_hand,
            "round_trip_frames_per_s": n / t_round, "unet": _unet_fps(device)}


def _to_device(a: np.ndarray):
    import cupy

    return cupy.asarray(a)


def _unet_fps(device: str) -> dict:
    """Default U-Net inference frames/s at 256x256 (batch 64, BatchNorm folded, bf16 on CUDA)."""
    import torch

    from lusfeat.seg import UNet, UNetConfig
    from lusfeat.seg._fast import prepare_inference

    dev = torch.device(device)
    net = prepare_inference(UNet(UNetConfig()).eval(), dev)
    dtype = next(net.parameters()).dtype
    x = torch.rand(64 if device == "cuda" else 4, 1, 256, 256, device=dev).to(dtype)
    x = x.contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        net(x)
        _sync(device)
        reps = 10 if device == "cuda" else 1
        t0 = time.perf_counter()
        for _ in range(reps):
            net(x)
        _sync(device)
    return {"batch": int(x.shape[0]), "frames_per_s": reps * x.shape[0] / (time.perf_counter() - t0)}


def check_dask_cuda(cpu_only: bool) -> dict:
    """Features on a one-worker LocalCUDACluster equal the in-process run."""
    need = ["dask", "distributed", "zarr"] + ([] if cpu_only else ["dask_cuda"])
    missing = _missing(*need)
    if missing:
        return {"skipped": f"{', '.join(missing)} not importable: dask-cuda run skipped"}
    import pandas as pd

    from lusfeat._scheduler import SchedulerSpec, dask_client
    from lusfeat.data import simulate_cohort
    from lusfeat.features import extract
    from lusfeat.features._extract import FILES

    backend = "cpu" if cpu_only else "cuda"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cohort = simulate_cohort(root / "c", patients=4, exams=2, zones=6, frames=2, size=128, seed=5)
        ref = extract(cohort, "truth", root / "ref", backend=backend, progress=False)
        t0 = time.perf_counter()
        with dask_client(SchedulerSpec("local", workers=1), gpu=not cpu_only) as client:
            start = time.perf_counter() - t0
            out = extract(cohort, "truth", root / "dask", backend=backend, batch=64, scheduler=client,
                          progress=False)
        same = all(pd.read_parquet(ref / f).equals(pd.read_parquet(out / f)) for f in FILES.values())
        meta = json.loads((out / "features.json").read_text())["scheduler"]
    return {"identical_tables": bool(same), "startup_s": start, "parts": meta["parts"],
            "peak_rss_mb_per_worker": meta["peak_rss_mb_per_worker"]}


def main(argv: list[str] | None = None) -> int:
    """Run the parts, print and write the results; 1 when a part that ran failed."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=2048, help="frames of the hand-off check")
    ap.add_argument("--cpu", action="store_true", help="check the script on the CPU (no GPU needed)")
    args = ap.parse_args(argv)
    out = Path(os.environ.get("OUT", "./gpu_out"))
    out.mkdir(parents=True, exist_ok=True)
    results: dict = {}
    failed = False
    missing = _missing("torch") + ([] if args.cpu else _missing("cupy"))
    parts = {"handoff": lambda: check_handoff(args.frames if not args.cpu else 64, args.cpu),
             "dask_cuda": lambda: check_dask_cuda(args.cpu)}
    for name, fn in parts.items():
        if missing and name == "handoff":
            results[name] = {"skipped": f"{', '.join(missing)} not importable"}
            continue
        try:
            results[name] = fn()
        except Exception as exc:  # report every part; the exit status says one failed
            results[name] = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
            failed = True
    h = results.get("handoff", {})
    if "parity_ok" in h and not (h["parity_ok"] and h["zero_copy"]):
        failed = True
    if results.get("dask_cuda", {}).get("identical_tables") is False:
        failed = True
    text = json.dumps(results, indent=2, default=str)
    (out / "gpu_scale.json").write_text(text)
    (out / "gpu_scale.txt").write_text(text + "\n")
    print(text)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
