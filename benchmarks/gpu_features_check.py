"""One-shot GPU check of the ``cuda`` feature backend: parity, then speed.

Run on a machine with a CUDA GPU and CuPy, from the repository root::

    OUT=/tmp/gpu_out python benchmarks/gpu_features_check.py

Needs only numpy, scipy, scikit-image, cupy, pandas and pyarrow (numba, zarr
and pytest are used when present, never installed). Writes to ``$OUT``
(default ``./gpu_out``):

- ``gpu_features.json``: device, versions, every parity case, timings;
- ``gpu_features.txt``: the same as a readable summary;
- ``pytest_gpu.txt``: output of ``pytest -m gpu tests/features`` when pytest,
  numba and zarr are importable.

Parity: ``cuda`` against ``reference`` (scikit-image, the specification) on
adversarial planes, random masks and LUS-like synthetic masks, and against
``cpu`` too when numba is available. Speed: frames/s of the full ``cuda``
backend and of its labelling kernel alone at 256x256 and 512x512 (5 classes),
side by side with ``cupyx.scipy.ndimage.label`` and cuCIM (when installed),
the fraction of device copy bandwidth reached, and ``reference`` on a few
frames for the ratio. Exit status 1 when any parity case fails.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_features import cuda_best_seconds, synthetic_masks  # noqa: E402


def _has(mod: str) -> bool:
    return importlib.util.find_spec(mod) is not None


def _adversarial(h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[:h, :w]
    planes = [np.zeros((h, w), bool), np.ones((h, w), bool), (yy + xx) % 2 == 0, xx % 2 == 0,
              yy == xx % max(h, 1), (yy * 7 + xx * 3) % 11 == 0, (yy % 3 == 0) | (xx % 4 == 1)]
    ring = np.zeros((h, w), bool)
    ring[1:-1, 1:-1] = True
    ring[2:-2, 2:-2] = False
    planes.append(ring)
    m = np.zeros((len(planes), 5, h, w), bool)
    for i, p in enumerate(planes):
        m[i, i % 5] = p
        m[i, (i + 2) % 5] = ~p
        m[i, (i + 3) % 5] = p
    return m


def _random(rng: np.random.Generator, n: int, h: int, w: int, p: float) -> np.ndarray:
    return rng.random((n, 5, h, w)) < p


def parity_cases(log) -> list[dict]:
    import cupy as cp

    from lusfeat.features._compute import run_backend
    from lusfeat.testing import parity_problems

    have_cpu = _has("numba")
    rng = np.random.default_rng(0)
    cases = []
    inputs = []
    for shape in [(1, 1), (1, 40), (40, 1), (5, 9), (31, 17), (64, 64), (100, 300), (33, 257)]:
        inputs.append((f"adversarial {shape}", _adversarial(*shape), None, None))
        for p in (0.05, 0.5, 0.9):
            inputs.append((f"random p={p} {shape}", _random(rng, 4, *shape, p),
                           rng.integers(0, 256, (4, *shape), dtype=np.uint8),
                           np.array([np.nan, 0.2, 0.3, 1.5])))
    for size in (256, 512):
        m, img, sp = synthetic_masks(6, size, 1)
        inputs.append((f"synthetic LUS {size}", m, img, sp))
    inputs.append(("dense noise 256 (run overflow -> global fallback)",
                   _random(rng, 2, 256, 256, 0.5), None, None))
    for name, m, img, sp in inputs:
        case = {"case": name, "shape": list(m.shape)}
        try:
            dm = cp.asarray(m)
            di = None if img is None else cp.asarray(img)
            got = run_backend(dm, di, sp, "cuda")
            ref = run_backend(m, img, sp, "reference") if m.shape[2] * m.shape[3] * m.shape[0] <= 6 * 512 * 512 else None
            if ref is not None:
                case["vs_reference"] = parity_problems(ref, got) or "ok"
            if have_cpu:
                case["vs_cpu"] = parity_problems(run_backend(m, img, sp, "cpu"), got) or "ok"
        except Exception:
            case["error"] = traceback.format_exc()
        log(f"parity {name}: " + ", ".join(f"{k}={v if v == 'ok' else v}" for k, v in case.items()
                                          if k in ("vs_reference", "vs_cpu", "error")))
        cases.append(case)
    return cases


def speed(log) -> list[dict]:
    import cupy as cp
    import cupyx.scipy.ndimage as cnd

    from lusfeat.features._compute import run_backend
    from lusfeat.features._cuda import run_cuda_kernels_only

    timed = cuda_best_seconds

    big = cp.empty(1 << 30, dtype=cp.uint8)
    t_copy = timed(lambda: big.copy())
    copy_bw = 2 * big.nbytes / t_copy
    big = None
    rows = []
    for size, n in ((256, 20000), (512, 5000)):
        m, img, sp = synthetic_masks(256, size, 2)
        reps = -(-n // 256)
        dm = cp.asarray(np.tile(m, (reps, 1, 1, 1))[:n])
        di = cp.asarray(np.tile(img, (reps, 1, 1))[:n])
        dsp = np.tile(sp, reps)[:n]
        row = {"size": size, "frames": n, "classes": 5,
               "components_per_frame": None, "copy_bandwidth_GBps": copy_bw / 1e9}
        t0 = time.perf_counter()
        ref = run_backend(m[:4], img[:4], sp[:4], "reference")
        row["reference_frames_per_s"] = 4 / (time.perf_counter() - t0)
        row["components_per_frame"] = len(ref[1]["label"]) / 4
        t_full = timed(lambda dm=dm, di=di, dsp=dsp: run_backend(dm, di, dsp, "cuda"), repeat=3)
        row["cuda_frames_per_s"] = n / t_full
        t_k = timed(lambda dm=dm, di=di: run_cuda_kernels_only(dm, di))
        row["cuda_kernel_frames_per_s"] = n / t_k
        bytes_in = dm.nbytes + di.nbytes
        row["kernel_input_GBps"] = bytes_in / t_k / 1e9
        row["kernel_fraction_of_copy_bandwidth"] = (bytes_in / t_k) / copy_bw
        row["cuda_ratio_to_reference"] = row["cuda_frames_per_s"] / row["reference_frames_per_s"]
        st = cp.zeros((3, 3, 3), bool)
        st[1] = True
        planes = dm.reshape(-1, size, size)
        t_lab = timed(lambda p=planes, s=st: cnd.label(p, structure=s), repeat=3)
        row["cupyx_label_stack_frames_per_s"] = n / t_lab
        if _has("cucim"):
            from cucim.skimage.measure import label as clabel
            from cucim.skimage.measure import regionprops_table

            props = ("area", "bbox", "centroid", "perimeter", "eccentricity", "orientation",
                     "solidity", "axis_major_length", "axis_minor_length")

            def cu(dm=dm, props=props):
                for i in range(4):
                    for c in range(5):
                        regionprops_table(clabel(dm[i, c]), properties=props)
            row["cucim_frames_per_s"] = 4 / timed(cu, repeat=2)
        else:
            row["cucim_frames_per_s"] = None
        log(f"speed {size}: " + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                          for k, v in row.items()))
        rows.append(row)
    return rows


def main() -> int:
    out = Path(os.environ.get("OUT", "gpu_out"))
    out.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []

    def log(msg: str) -> None:
        print(msg, flush=True)
        lines.append(msg)

    import cupy as cp

    props = cp.cuda.runtime.getDeviceProperties(0)
    env = {"device": props["name"].decode(), "cupy": cp.__version__, "numpy": np.__version__,
           "cuda_runtime": cp.cuda.runtime.runtimeGetVersion(), "numba": _has("numba"),
           "cucim": _has("cucim")}
    log(f"env: {env}")
    result: dict = {"env": env}
    t0 = time.perf_counter()
    result["parity"] = parity_cases(log)
    result["parity_seconds"] = time.perf_counter() - t0
    try:
        result["speed"] = speed(log)
    except Exception:
        result["speed_error"] = traceback.format_exc()
        log(result["speed_error"])
    if all(_has(m) for m in ("pytest", "numba", "zarr", "hypothesis")):
        proc = subprocess.run([sys.executable, "-m", "pytest", "tests/features", "-m", "gpu", "-q",
                               "-p", "no:cacheprovider"], cwd=ROOT, capture_output=True, text=True,
                              timeout=300)
        (out / "pytest_gpu.txt").write_text(proc.stdout + proc.stderr)
        result["pytest_gpu_returncode"] = proc.returncode
        log(f"pytest -m gpu: rc={proc.returncode}; {proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ''}")
    else:
        result["pytest_gpu_returncode"] = "skipped (pytest/numba/zarr/hypothesis missing)"
    (out / "gpu_features.json").write_text(json.dumps(result, indent=2, default=str))
    (out / "gpu_features.txt").write_text("\n".join(lines) + "\n")
    failed = [c for c in result["parity"] if "error" in c
              or isinstance(c.get("vs_reference", "ok"), list) or isinstance(c.get("vs_cpu", "ok"), list)]
    log(f"parity failures: {len(failed)} of {len(result['parity'])}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
