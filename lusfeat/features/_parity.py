"""Parity check between two backends' outputs (used by benchmarks and GPU checks).

The contract: integer component features equal exactly; float features to
1e-9 relative (1e-9 absolute for values that are differences of nearly equal
numbers, 1e-6 absolute for square roots of a possibly-zero eigenvalue);
orientation modulo pi, skipped where the inertia tensor is isotropic.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["parity_problems"]

_INT = {"frame", "class_index", "label", "area", "bbox_min_row", "bbox_min_col",
        "bbox_max_row", "bbox_max_col", "area_convex", "plane"}
_SQRT = {"axis_minor_length", "axis_major_length", "eccentricity"}


def _host(a: Any) -> np.ndarray:
    return np.asarray(a.get() if hasattr(a, "get") else a)


def parity_problems(ref: tuple[dict, dict], got: tuple[dict, dict]) -> list[str]:
    """Differences between two ``(frame_columns, component_columns)`` results.

    Parameters
    ----------
    ref, got : tuple of dict
        Outputs of :func:`lusfeat.features._compute.run_backend`.

    Returns
    -------
    list of str
        One line per mismatching column (empty when the results agree).
    """
    problems: list[str] = []
    fr_ref, co_ref = ref
    fr_got, co_got = got
    if set(co_ref) != set(co_got) or set(fr_ref) != set(fr_got):
        return ["column sets differ"]
    k_ref, k_got = len(_host(co_ref["label"])), len(_host(co_got["label"]))
    if k_ref != k_got:
        return [f"component count {k_got} != {k_ref}"]
    for name in co_ref:
        a, b = _host(co_ref[name]), _host(co_got[name])
        if name in _INT:
            bad = a != b
        elif name == "orientation":
            l1 = _host(co_ref["axis_major_length"]) ** 2
            l2 = _host(co_ref["axis_minor_length"]) ** 2
            d = np.abs(a - b)
            d = np.minimum(d, np.abs(d - np.pi))
            bad = (d > 1e-9) & (np.abs(l1 - l2) > 1e-9 * np.maximum(l1, 1e-300))
        else:
            atol = 1e-6 if name in _SQRT else 1e-12
            bad = ~np.isclose(b, a, rtol=1e-9, atol=atol, equal_nan=True)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            problems.append(f"component {name}: {int(bad.sum())} differ (first #{i}: {b[i]} vs {a[i]})")
    for name in fr_ref:
        a, b = _host(fr_ref[name]), _host(fr_got[name])
        bad = ~np.isclose(b, a, rtol=1e-9, atol=1e-9, equal_nan=True)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            problems.append(f"frame {name}: {int(bad.sum())} differ (first #{i}: {b[i]} vs {a[i]})")
    return problems
