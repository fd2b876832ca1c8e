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
]
