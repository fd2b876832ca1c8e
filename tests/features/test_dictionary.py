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
