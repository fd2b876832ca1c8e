"""The CUDA kernel source, run on the CPU by a thread-per-CUDA-thread emulator, equals the cpu twin.

``cuda_emulator/`` holds a small C++20 harness: every CUDA thread is a ``std::thread``,
``__syncthreads`` and the warp exchanges are barriers, atomics are ``std::atomic_ref``. It
includes the unchanged ``KERNEL_SOURCE`` of :mod:`lusfeat.features._cuda_kernels`, compiled with
the production ``compile_options()`` (block size 256; ``HULL_CAP`` 128, and 4 to force the hull
fallback), and launches it with the sizes of ``launch_plan()``, as :mod:`lusfeat.features._cuda`
does (shared-memory kernel, then the global-memory fallback). This checks the kernel's logic
(labels, moments, perimeter classes, hulls, fallbacks, both accumulation paths) without a GPU;
timing and GPU-specific behaviour need the ``gpu`` tests.

Without g++ the tests skip; with g++, a build that fails is a test failure.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from lusfeat.features._cuda_kernels import (
    BLOCK,
    HULL_CAP,
    KERNEL_SOURCE,
    compile_options,
    launch_plan,
)
from lusfeat.features._layout import COMPONENT_STATS
from lusfeat.features._runs import label_planes
from lusfeat.testing import random_masks

pytestmark = pytest.mark.slow

HERE = Path(__file__).parent / "cuda_emulator"
NF = len(COMPONENT_STATS)


def build_emulator(tmp: Path, hull_cap: int, block: int = BLOCK, source: str = KERNEL_SOURCE) -> Path:
    """Compile the emulator driver around ``source``; raise on any compiler error."""
    (tmp / "kernel_source.cu").write_text(source)
    for name in ("emu_prelude.h", "driver.cpp"):
        shutil.copy(HERE / name, tmp / name)
    exe = tmp / "driver"
    cmd = ["g++", "-std=c++20", "-O1", "-pthread", *compile_options(block, hull_cap),
           str(tmp / "driver.cpp"), "-o", str(exe)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"the CUDA emulator does not build ({' '.join(cmd)}):\n{proc.stderr[-2000:]}")
    return exe


@pytest.fixture(scope="module")
def drivers(tmp_path_factory):
    if shutil.which("g++") is None:
        pytest.skip("g++ not found; the CUDA emulator needs a C++20 compiler")
    return {cap: build_emulator(tmp_path_factory.mktemp(f"emu{cap}"), cap) for cap in (HULL_CAP, 4)}


def _run(exe: Path, masks: np.ndarray, images, plan, tmp: Path):
    n, c, h, w = masks.shape
    inp, out = tmp / "in.bin", tmp / "out.bin"
    header = [n * c, h, w, c, images is not None, plan.rmax, plan.smem, plan.smem_global,
              plan.rmax_global, plan.hull_scratch_per_plane, plan.output_rows(n * c), plan.fallback_rows(1)]
    with open(inp, "wb") as f:
        np.array(header, np.int32).tofile(f)
        np.ascontiguousarray(masks).astype(np.uint8).tofile(f)
        if images is not None:
            np.ascontiguousarray(images).tofile(f)
    subprocess.run([str(exe), str(inp), str(out)], check=True, timeout=300)
    raw = out.read_bytes()
    k = int(np.frombuffer(raw[:8], np.int64)[0])
    n_fallback = int(np.frombuffer(raw[8:12], np.int32)[0])
    stats = np.frombuffer(raw[12:12 + k * NF * 8], np.int64).reshape(k, NF)
    hper = np.frombuffer(raw[12 + k * NF * 8:], np.float64)
    order = np.lexsort((stats[:, 1], stats[:, 0]))
    return stats[order], hper[order], n_fallback


def _check(drivers, masks, images, tmp, shared_limit=None, hull_cap=HULL_CAP) -> int:
    n, c, h, w = masks.shape
    kw = {} if shared_limit is None else {"shared_limit": shared_limit}
    plan = launch_plan(h, w, hull_cap=hull_cap, **kw)
    ref, ref_p = label_planes(masks.reshape(n * c, h, w).astype(np.uint8), images, np.arange(n * c) // c)
    got, got_p, n_fallback = _run(drivers[hull_cap], masks, images, plan, tmp)
    np.testing.assert_array_equal(got, ref)
    np.testing.assert_allclose(got_p, ref_p, rtol=1e-12)
    return n_fallback


def test_a_broken_build_fails(tmp_path):
    """A compiler error is reported as an error, never as a skip."""
    if shutil.which("g++") is None:
        pytest.skip("g++ not found")
    with pytest.raises(RuntimeError, match="does not build"):
        build_emulator(tmp_path, HULL_CAP, source=KERNEL_SOURCE + "\nthis is not C++;\n")


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
    assert _check(drivers, m, None, tmp_path, shared_limit=0) >= 2  # rmax 256


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
