"""Cohorts: the on-disk format, the synthetic LUS simulator, validation and ingest."""

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
from ._show import show_cohort
from ._simulate import SimulationConfig, simulate_cohort
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
