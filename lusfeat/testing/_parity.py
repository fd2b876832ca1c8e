"""Parity of two backends' outputs, with the tolerances of the feature dictionary.

The contract is written once, in :data:`lusfeat.features.DICTIONARY`: each
feature's ``rtol`` and ``atol`` (``|got - ref| <= atol + rtol |ref|``; both 0
means exact, which every int64 column is). Today that is: integer component
features and the keys ``frame``, ``class_index``, ``plane`` exactly; other
component features to 1e-9 relative and 1e-12 absolute, the square roots of a
possibly-zero eigenvalue (axis lengths, eccentricity) to 1e-6 absolute; frame
features to 1e-9 relative and 1e-9 absolute. ``orientation`` is compared
modulo pi to its ``atol`` (1e-9 rad), skipped where the inertia tensor is
isotropic to its ``rtol`` (the angle is then undefined).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..features._dictionary import _KEYS, DICTIONARY

__all__ = ["assert_parity", "parity_problems"]


def _host(a: Any) -> np.ndarray:
    return np.asarray(a.get() if hasattr(a, "get") else a)


def _orientation_bad(a: np.ndarray, b: np.ndarray, comps: dict) -> np.ndarray:
    feat = DICTIONARY["orientation"]
    l1 = _host(comps["axis_major_length"]) ** 2
    l2 = _host(comps["axis_minor_length"]) ** 2
    d = np.abs(a - b)
    d = np.minimum(d, np.abs(d - np.pi))  # modulo pi
    return (d > feat.atol) & (np.abs(l1 - l2) > feat.rtol * np.maximum(l1, 1e-300))


def _column_bad(name: str, a: np.ndarray, b: np.ndarray, comps: dict | None) -> np.ndarray:
    if name in _KEYS:
        return a != b
    feat = DICTIONARY[name]
    if feat.exact:
        return a != b
    if name == "orientation" and comps is not None:
        return _orientation_bad(a, b, comps)
    return ~np.isclose(b, a, rtol=feat.rtol, atol=feat.atol, equal_nan=True)


def _problems(level: str, ref: dict, got: dict, comps: dict | None) -> list[str]:
    problems = []
    for name in ref:
        a, b = _host(ref[name]), _host(got[name])
        bad = _column_bad(name, a, b, comps)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            problems.append(f"{level} {name}: {int(bad.sum())} differ (first #{i}: {b[i]} vs {a[i]})")
    return problems


def parity_problems(ref: tuple[dict, dict], got: tuple[dict, dict]) -> list[str]:
    """Differences between two ``(frame_columns, component_columns)`` results.

    Parameters
    ----------
    ref, got : tuple of dict
        Outputs of :func:`lusfeat.features._compute.run_backend` (NumPy or
        CuPy arrays); ``ref`` is the reference.

    Returns
    -------
    list of str
        One line per mismatching column (empty when the results agree).
    """
    fr_ref, co_ref = ref
    fr_got, co_got = got
    if set(co_ref) != set(co_got) or set(fr_ref) != set(fr_got):
        return ["column sets differ"]
    k_ref, k_got = len(_host(co_ref["label"])), len(_host(co_got["label"]))
    if k_ref != k_got:
        return [f"component count {k_got} != {k_ref}"]
    return _problems("component", co_ref, co_got, co_ref) + _problems("frame", fr_ref, fr_got, None)


def assert_parity(ref: tuple[dict, dict], got: tuple[dict, dict]) -> None:
    """Raise ``AssertionError`` listing every column where ``got`` leaves ``ref``'s tolerance."""
    problems = parity_problems(ref, got)
    assert not problems, "\n".join(problems)
