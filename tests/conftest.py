"""Shared fixtures: small simulated cohorts built once per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

os.environ.setdefault("OMP_NUM_THREADS", "1")

# Hypothesis profiles: "ci" (the default) replays the same examples on every run and keeps no
# example database, so a green run stays green; "dev" explores many more random examples.
# Select one with HYPOTHESIS_PROFILE=dev.
settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile("dev", max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

#: Real LUS frames (public datasets) live beside the repository, never inside it.
REAL_LUS = Path(os.environ.get("LUSFEAT_REAL_LUS", Path(__file__).resolve().parents[2] / "shared" / "data" / "real_lus"))


@pytest.fixture(scope="session")
def tiny_cohort(tmp_path_factory) -> Path:
    """A tiny simulated cohort: 6 patients, 2-3 exams, 6 zones, 2 frames of 64 px, 3 annotators."""
    from lusfeat.data import simulate_cohort

    return simulate_cohort(
        tmp_path_factory.mktemp("cohort") / "tiny",
        patients=6,
        exams=(2, 3),
        zones=6,
        frames=2,
        size=64,
        probe="mixed",
        annotators=3,
        seed=7,
    )


@pytest.fixture(scope="session")
def real_lus_dir() -> Path:
    """Folder of real LUS frames; tests using it skip when it is absent."""
    if not (REAL_LUS / "frames").is_dir():
        pytest.skip(f"real LUS frames not found at {REAL_LUS} (set LUSFEAT_REAL_LUS)")
    return REAL_LUS


def pytest_collection_modifyitems(config, items):
    """Skip tests marked ``gpu`` cleanly when CuPy or a CUDA device is missing."""
    try:
        import cupy

        has_gpu = cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        has_gpu = False
    if has_gpu:
        return
    skip = pytest.mark.skip(reason="needs CuPy and a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
