"""Cohorts: the on-disk format, the synthetic LUS simulator, validation and ingest.

The simulator and the cohort viewer are imported on first use (``lusfeat.data.
simulate_cohort``): they pull in scipy.ndimage, numba kernels and matplotlib,
which every other command (and ``lusfeat --help``) would otherwise pay for.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._format import (
    CLASS_NAMES,
    CLINICAL_COLUMNS,
    FORMAT_VERSION,
    FRAME_COLUMNS,
    Cohort,
    CohortWriter,
    open_cohort,
)
from ._masks import MaskSet, MaskWriter, open_masks
from ._validate import CohortSummary, validate_cohort

__all__ = [
    "CLASS_NAMES",
    "CLINICAL_COLUMNS",
    "FORMAT_VERSION",
    "FRAME_COLUMNS",
    "Cohort",
    "CohortWriter",
    "open_cohort",
    "MaskSet",
    "MaskWriter",
    "open_masks",
    "SimulationConfig",
    "simulate_cohort",
    "show_cohort",
    "CohortSummary",
    "validate_cohort",
]

#: Public names imported on first use, and the module that holds each.
_LAZY = {"SimulationConfig": "._simulate", "simulate_cohort": "._simulate", "show_cohort": "._show"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
