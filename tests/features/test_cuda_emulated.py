"""The CUDA kernel source, run on the CPU by a thread-per-CUDA-thread emulator, equals the cpu twin.

``cuda_emulator/`` holds a small C++20 harness: every CUDA thread is a ``std::thread``,
``__syncthreads`` and the warp exchanges are barriers, atomics are ``std::atomic_ref``. It
compiles the exact ``KERNEL_SOURCE`` of :mod:`lusfeat.features._cuda_kernels` and launches it
as :mod:`lusfeat.features._cuda` does (shared-memory kernel, then the global-memory fallback).
This checks the kernel's logic (labels, moments, perimeter classes, hulls, fallbacks, both
accumulation paths) without a GPU; timing and GPU-specific behaviour need the ``gpu`` tests.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from lusfeat.features._cuda_kernels import KERNEL_SOURCE
from lusfeat.features._runs import label_planes

from ._helpers import random_masks

pytestmark = pytest.mark.slow

HERE = Path(__file__).parent / "cuda_emulator"
THREADS = 64  # two warps: every loop of the kernel is block-stride, so any multiple of 32 works


def _build(tmp: Path, hull_cap: int) -> Path:
    src = (KERNEL_SOURCE.replace("extern __shared__ int smem[];", "int* smem = g_smem;")
           .replace("__shared__ long long base_s;", "static long long base_s;")
           .replace("#define HULL_CAP 128", f"#define HULL_CAP {hull_cap}"))
    (tmp / "kernel_body.inc").write_text(src)
    for name in ("emu_prelude.h", "driver.cpp"):
        shutil.copy(HERE / name, tmp / name)
    exe = tmp / "driver"
    proc = subprocess.run(["g++", "-std=c++20", "-O1", "-pthread", str(tmp / "driver.cpp"), "-o", str(exe)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot build the CUDA emulator (needs g++ with C++20): {proc.stderr[-300:]}")
    return exe


@pytest.fixture(scope="module")
def drivers(tmp_path_factory):
    if shutil.which("g++") is None:
        pytest.skip("g++ not found; the CUDA emulator needs a C++20 compiler")
    return {cap: _build(tmp_path_factory.mktemp(f"emu{cap}"), cap) for cap in (128, 4)}


def _run(exe: Path, masks: np.ndarray, images, rmax: int, hull_cap: int, tmp: Path):
    n, c, h, w = masks.shape
    inp, out = tmp / "in.bin", tmp / "out.bin"
    with open(inp, "wb") as f:
        np.array([n * c, h, w, c, images is not None, rmax, THREADS, hull_cap], np.int32).tofile(f)
        np.ascontiguousarray(masks).astype(np.uint8).tofile(f)
        if images is not None:
            np.ascontiguousarray(images).tofile(f)
    subprocess.run([str(exe), str(inp), str(out)], check=True, timeout=120)
    raw = out.read_bytes()
    k = int(np.frombuffer(raw[:8], np.int64)[0])
    n_fallback = int(np.frombuffer(raw[8:12], np.int32)[0])
    stats = np.frombuffer(raw[12:12 + k * 17 * 8], np.int64).reshape(k, 17)
    hper = np.frombuffer(raw[12 + k * 17 * 8:], np.float64)
    order = np.lexsort((stats[:, 1], stats[:, 0]))
    return stats[order], hper[order], n_fallback


def _check(drivers, masks, images, tmp, rmax=4096, hull_cap=128) -> int:
    n, c, h, w = masks.shape
    ref, ref_p = label_planes(masks.reshape(n * c, h, w).astype(np.uint8), images, np.arange(n * c) // c)
    got, got_p, n_fallback = _run(drivers[hull_cap], masks, images, rmax, hull_cap, tmp)
    np.testing.assert_array_equal(got, ref)
    np.testing.assert_allclose(got_p, ref_p, rtol=1e-12)
    return n_fallback


def test_random_masks_with_images(drivers, tmp_path):
    rng = np.random.default_rng(0)
    m = random_masks(rng, 2, 37, 45)
    img = rng.integers(0, 256, (2, 37, 45), dtype=np.uint8)
    assert _check(drivers, m, img, tmp_path) == 0


def test_adversarial_planes_and_run_overflow_fallback(drivers, tmp_path):
    yy, xx = np.mgrid[:30, :50]
    m = np.zeros((1, 5, 30, 50), bool)
    m[0, 0] = (yy + xx) % 2 == 0   # checkerboard: one 8-connected component, 750 runs
    m[0, 1] = True
    m[0, 2] = xx % 2 == 0
    m[0, 3] = yy == xx % 30
    m[0, 4, 0, 0] = m[0, 4, 29, 49] = True
    assert _check(drivers, m, None, tmp_path, rmax=256) >= 2


def test_many_components_use_the_atomic_path(drivers, tmp_path):
    rng = np.random.default_rng(1)
    m = np.zeros((1, 5, 96, 96), bool)
    m[0, 2] = rng.random((96, 96)) < 0.12   # n_lab * n_runs > 65536
    _check(drivers, m, None, tmp_path)


def test_hull_stack_overflow_fallback(drivers, tmp_path):
    yy, xx = np.mgrid[:40, :40]
    m = np.zeros((1, 5, 40, 40), bool)
    m[0, 3] = (yy - 20) ** 2 + (xx - 19) ** 2 <= 17**2
    assert _check(drivers, m, None, tmp_path, hull_cap=4) == 1
