"""Pinned outputs: the feature tables of a fixed input, and the three backends agreeing on it.

The hashes were recorded from lusfeat 0.1.0 before the feature code was reorganised
(``_table_hash`` of ``run_backend(masks, images, spacing, "cpu")``); a change of any value
in the 9th decimal, of a dtype or of a column order changes them. Update them only for an
intended change of a definition, and say so in the change log.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from lusfeat.features._compute import _run_cpu, run_backend
from lusfeat.testing import assert_parity, random_masks

FRAME_SHA = "6940960c61c2bc20f56bf232a646fded7a52d87a0f18a7acd12217c23de26297"
COMPONENT_SHA = "4f7b08c8128e3c1af6645dd47138e149d8fa08e6b001a705e8b8c8ea983c1506"


@pytest.fixture(scope="module")
def fixed_input():
    rng = np.random.default_rng(2026)
    masks = random_masks(rng, 6, 48, 40)
    masks[0] = False                      # an empty frame
    masks[1, 0, 10:12, :] = True          # a full pleural line
    images = rng.integers(0, 256, (6, 48, 40), dtype=np.uint8)
    spacing = np.array([np.nan, 0.2, 0.35, 1.0, np.nan, 0.1])
    return masks, images, spacing


def _table_hash(cols: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name, values in cols.items():
        v = np.asarray(values)
        h.update(f"{name}:{v.dtype}:{v.shape}".encode())
        h.update(np.ascontiguousarray(np.round(v, 9) if v.dtype.kind == "f" else v).tobytes())
    return h.hexdigest()


def test_cpu_tables_are_pinned(fixed_input):
    frames, comps = run_backend(*fixed_input, "cpu")
    assert _table_hash(frames) == FRAME_SHA
    assert _table_hash(comps) == COMPONENT_SHA


def test_reference_numba_and_array_paths_agree(fixed_input):
    masks, images, spacing = fixed_input
    ref = run_backend(masks, images, spacing, "reference")
    cpu = run_backend(masks, images, spacing, "cpu")
    array_path = _run_cpu(masks, images, spacing, pixel_path="array")
    assert_parity(ref, cpu)
    assert_parity(ref, array_path)
    assert_parity(cpu, array_path)
    for name in cpu[1]:  # the two cpu paths share the component table exactly
        np.testing.assert_array_equal(cpu[1][name], array_path[1][name], err_msg=name)
