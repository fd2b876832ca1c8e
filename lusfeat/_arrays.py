"""The array module of an array: NumPy, or CuPy for CuPy arrays (its one home in lusfeat)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["array_module"]


def array_module(x: Any) -> Any:
    """Return the array module (NumPy or CuPy) that ``x`` belongs to.

    CuPy is imported lazily; without it every array is a NumPy array.
    """
    try:
        import cupy
    except ImportError:
        return np
    return cupy.get_array_module(x)
