"""The feature dictionary is the single registry the code follows."""

from __future__ import annotations

import numpy as np
import pytest

from lusfeat.features import DICTIONARY, compute, compute_components


def test_names_unique_and_documented():
    names = [f.name for f in DICTIONARY]
    assert len(names) == len(set(names))
    for f in DICTIONARY:
        assert f.definition and f.unit and f.level in ("component", "frame")


def test_compute_columns_match_dictionary():
    m = np.zeros((2, 5, 12, 12), bool)
    m[0, 3, 2:5, 2:5] = True
    assert list(compute(m, backend="cpu").columns[1:]) == DICTIONARY.names("frame")
    comp = compute_components(m, backend="cpu")
    for name in DICTIONARY.names("component"):
        assert name in comp.columns


def test_lookup_and_text():
    assert DICTIONARY["b_line_blas"].reference.startswith("Howell")
    with pytest.raises(KeyError, match="no feature"):
        DICTIONARY["nope"]
    text = str(DICTIONARY)
    assert "pleural_line_roughness" in text and "definition" in text


def test_declared_needs_are_the_raw_records():
    """Every raw statistic a feature needs exists, and every raw statistic is needed."""
    from lusfeat.features._layout import COMPONENT_STATS, FRAME_STATS

    comp_names = set(DICTIONARY.names("component"))
    needed = set()
    for f in DICTIONARY:
        allowed = set(COMPONENT_STATS) if f.level == "component" else (
            set(FRAME_STATS) | {"pix"} | comp_names)
        assert set(f.needs) <= allowed, (f.name, set(f.needs) - allowed)
        needed |= set(f.needs)
    assert set(FRAME_STATS) <= needed, set(FRAME_STATS) - needed
    assert set(COMPONENT_STATS) - {"plane"} <= needed, set(COMPONENT_STATS) - needed


@pytest.mark.parametrize("backend", ["reference", "cpu"])
def test_component_dtypes_and_tolerances_follow_the_dictionary(backend):
    m = np.zeros((1, 5, 16, 16), bool)
    m[0, 3, 2:5, 2:6] = True
    comp = compute_components(m, backend=backend)
    for f in DICTIONARY:
        if f.level == "component":
            assert str(comp[f.name].dtype) == f.dtype, f.name
            assert f.exact == (f.dtype == "int64"), f.name
    assert all(str(compute(m, backend=backend)[n].dtype) == "float64" for n in DICTIONARY.names("frame"))


def test_dictionary_csv_columns_are_stable():
    from lusfeat.features._dictionary import TABLE_COLUMNS

    assert list(DICTIONARY.to_frame().columns) == list(TABLE_COLUMNS)
