"""Chunk manifest: written with cohorts and mask sets, checked on open and by validate."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from lusfeat import CohortError, ValidationError
from lusfeat.data import MaskWriter, open_cohort, open_masks, validate_cohort
from lusfeat.data._chunks import CHUNKS_FILE, verify_chunks


@pytest.fixture()
def copy(tiny_cohort, tmp_path):
    dst = tmp_path / "c"
    shutil.copytree(tiny_cohort, dst)
    return dst


def _chunk(cohort, array, k=1):
    return sorted(p for p in (cohort / "arrays.zarr" / array / "c").rglob("*") if p.is_file())[k]


def test_manifest_lists_every_stored_chunk(tiny_cohort):
    man = json.loads((tiny_cohort / CHUNKS_FILE).read_text())
    for name in ("images", "confidence", "truth"):
        stored = {p.relative_to(tiny_cohort / "arrays.zarr" / name).as_posix()
                  for p in (tiny_cohort / "arrays.zarr" / name / "c").rglob("*") if p.is_file()}
        assert set(man["arrays"][name]["chunks"]) == stored
        assert man["arrays"][name]["chunk_frames"] == 16
    assert verify_chunks(tiny_cohort, "arrays.zarr") == []


def test_lost_chunk_fails_open_and_validate(copy):
    _chunk(copy, "confidence").unlink()
    with pytest.raises(CohortError, match=r"confidence: chunk c/1/\S+ \(frames 16-31\) is missing"):
        open_cohort(copy)
    with pytest.raises(ValidationError, match="is missing"):
        validate_cohort(copy)


def test_truncated_chunk_names_array_and_frames(copy):
    p = _chunk(copy, "images")
    p.write_bytes(p.read_bytes()[:10])
    c = open_cohort(copy)  # present: opens; reading the chunk fails with a clear error
    assert c.images[:16].shape[0] == 16
    with pytest.raises(CohortError, match=r"arrays.zarr/images: frames 16-31 cannot be decoded"):
        c.images[0:40]
    with pytest.raises(CohortError, match=r"frames 16-31 cannot be decoded"):
        c.images.oindex[np.array([3, 20])]
    with pytest.raises(CohortError, match="digest mismatch"):
        open_cohort(copy, verify=True)
    with pytest.raises(ValidationError) as info:
        validate_cohort(copy)
    assert any("digest mismatch" in p for p in info.value.problems)
    assert any("frames 16-31 cannot be decoded" in p for p in info.value.problems)


def test_extra_chunk_is_reported(copy):
    src = _chunk(copy, "truth", 0)
    extra = src.parent.parent.parent / "99" / src.parent.name
    extra.mkdir(parents=True)
    shutil.copy(src, extra / src.name)
    with pytest.raises(CohortError, match="is not in chunks.json"):
        open_cohort(copy)


def test_old_cohort_without_manifest_opens_with_a_warning(copy):
    (copy / CHUNKS_FILE).unlink()
    assert open_cohort(copy).n_frames > 0
    summary = validate_cohort(copy)
    assert any("chunks.json is absent" in w for w in summary.warnings)


def test_mask_sets_carry_a_manifest_too(tmp_path):
    with MaskWriter(tmp_path / "m", 40, 16, 16, with_probabilities=True) as w:
        w.write(0, np.ones((40, 5, 16, 16), bool), np.full((40, 5, 16, 16), 200, np.uint8))
        w.finish({"producer": "test"})
    assert open_masks(tmp_path / "m", verify=True).masks[:].all()
    next(p for p in (tmp_path / "m" / "masks.zarr" / "probabilities" / "c").rglob("*") if p.is_file()).unlink()
    with pytest.raises(CohortError, match="probabilities: chunk .* is missing"):
        open_masks(tmp_path / "m")
