"""The cuda backend equals the cpu backend (GPU tests skip cleanly without CUDA)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from lusfeat.features._compute import run_backend
from lusfeat.features._cuda_kernels import (
    KERNEL_SOURCE,
    SHARED_LIMIT,
    STAT_COLUMNS,
    compile_options,
    launch_plan,
)
from lusfeat.features._layout import COMPONENT_STATS
from lusfeat.testing import parity_problems, random_masks


def test_kernel_reads_its_layout_from_the_compile_options():
    """Every row index the kernel uses is a define of compile_options(), none is hand-written."""
    used = set(re.findall(r"\b(F_[A-Z0-9_]+)\b", KERNEL_SOURCE))
    defined = {o[2:].split("=")[0] for o in compile_options()}
    assert used <= defined
    assert not re.search(r"#define (F_\w+|NF|HULL_CAP|LUSFEAT_BLOCK) ", KERNEL_SOURCE)
    assert f"-DNF={STAT_COLUMNS}" in compile_options()
    assert {f"F_{n.upper()}" for n in COMPONENT_STATS} <= defined
    assert compile_options()[:2] == ("-DLUSFEAT_BLOCK=256", "-DHULL_CAP=128")


def test_launch_plan_fits_the_shared_memory_limit():
    for h, w in [(1, 1), (64, 64), (256, 256), (1024, 1024)]:
        plan = launch_plan(h, w)
        assert plan.smem <= SHARED_LIMIT or plan.rmax == 256
        assert plan.rmax % 256 == 0 and 256 <= plan.rmax <= 4096
    assert launch_plan(30, 50, shared_limit=0).rmax == 256


def test_parity_report_flags_differences():
    m = np.zeros((1, 5, 8, 8), bool)
    m[0, 1, 2:4, 2:6] = True
    a = run_backend(m, None, None, "cpu")
    b = run_backend(m, None, None, "cpu")
    assert parity_problems(a, b) == []
    b[1]["area"] = b[1]["area"] + 1
    b[0]["a_line_area"] = b[0]["a_line_area"] * 1.001
    problems = parity_problems(a, b)
    assert any("area" in p for p in problems) and len(problems) == 2


@pytest.mark.gpu
@pytest.mark.parametrize("shape", [(1, 1), (5, 9), (31, 17), (64, 64), (256, 256), (100, 300)])
def test_cuda_equals_cpu_random(shape):
    import cupy as cp

    rng = np.random.default_rng(sum(shape))
    m = random_masks(rng, 8, *shape)
    img = rng.integers(0, 256, (8, *shape), dtype=np.uint8)
    sp = np.array([np.nan, 0.2, 0.3, 1.0, np.nan, 0.1, 0.5, 2.0])
    cpu = run_backend(m, img, sp, "cpu")
    gpu = run_backend(cp.asarray(m), cp.asarray(img), sp, "cuda")
    assert parity_problems(cpu, gpu) == []


@pytest.mark.gpu
def test_cuda_adversarial_planes_and_fallback():
    """Full, checkerboard (many runs: global-memory fallback) and sparse planes."""
    import cupy as cp

    h, w = 96, 130
    yy, xx = np.mgrid[:h, :w]
    planes = [np.zeros((h, w), bool), np.ones((h, w), bool), (yy + xx) % 2 == 0,
              (xx % 2 == 0), yy == xx % h, (yy * 7 + xx * 3) % 11 == 0]
    m = np.zeros((len(planes), 5, h, w), bool)
    for i, p in enumerate(planes):
        m[i, :] = p
    cpu = run_backend(m, None, None, "cpu")
    gpu = run_backend(cp.asarray(m), None, None, "cuda")
    assert parity_problems(cpu, gpu) == []


@pytest.mark.gpu
def test_cuda_simulated_truth(tiny_cohort):
    import cupy as cp

    from lusfeat.data import open_cohort

    c = open_cohort(tiny_cohort)
    m, img, sp = np.asarray(c.truth[:]), np.asarray(c.images[:]), c.spacing
    cpu = run_backend(m, img, sp, "cpu")
    gpu = run_backend(cp.asarray(m), cp.asarray(img), sp, "cuda")
    assert parity_problems(cpu, gpu) == []


@pytest.mark.gpu
def test_cuda_extract_from_device_array(tiny_cohort, tmp_path):
    import cupy as cp

    from lusfeat.data import open_cohort
    from lusfeat.features import extract, read_features

    c = open_cohort(tiny_cohort)
    dev = cp.asarray(np.asarray(c.truth[:]))
    a = extract(c, dev, tmp_path / "gpu", backend="cuda", progress=False)
    b = extract(c, "truth", tmp_path / "cpu", backend="cpu", progress=False)
    ea, eb = read_features(a), read_features(b)
    np.testing.assert_allclose(ea.iloc[:, 2:].to_numpy(float), eb.iloc[:, 2:].to_numpy(float),
                               rtol=1e-9, atol=1e-9, equal_nan=True)


def test_kernels_are_built_from_the_unchanged_source_with_the_options(monkeypatch):
    """build_kernels hands RawModule the source as written and compile_options() as -D options."""
    import sys
    import types

    from lusfeat.features import _cuda_kernels

    seen = {}

    class RawModule:
        def __init__(self, code, options=()):
            seen["code"], seen["options"] = code, options

        def get_function(self, name):
            return name

    fake = types.ModuleType("cupy")
    fake.RawModule = RawModule
    monkeypatch.setitem(sys.modules, "cupy", fake)
    build = getattr(_cuda_kernels.build_kernels, "__wrapped__", _cuda_kernels.build_kernels)
    assert build(128, 16) == ("lusfeat_label_stats_u8", "lusfeat_label_stats_u8_global")
    assert seen["code"] is KERNEL_SOURCE
    assert seen["options"] == compile_options(128, 16)
    assert "-DLUSFEAT_BLOCK=128" in seen["options"] and "-DHULL_CAP=16" in seen["options"]
