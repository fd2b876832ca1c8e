"""Collect every problem of an ingest run and report them together."""

from __future__ import annotations

import logging

from ..._errors import ValidationError

__all__ = ["Problems"]

logger = logging.getLogger("lusfeat.data.ingest")


class Problems:
    """Errors and warnings found while checking inputs.

    Parameters
    ----------
    strict : bool
        Treat warnings as errors.

    Examples
    --------
    >>> p = Problems()
    >>> p.warn("clinical.csv: exam E9 has no clinical row; add one")
    >>> p.raise_if_any("ingest")  # warnings alone do not raise
    """

    def __init__(self, strict: bool = False) -> None:
        self.strict = bool(strict)
        self.errors: list[str] = []
        self.warnings: list[str] = []
        self.notes: list[str] = []

    def error(self, message: str) -> None:
        """Record a problem that stops the run."""
        self.errors.append(message)

    def warn(self, message: str) -> None:
        """Record a warning: logged, and an error when ``strict``."""
        self.warnings.append(message)
        if self.strict:
            self.errors.append(f"{message} (warning made an error by --strict)")
        else:
            logger.warning(message)

    def note(self, message: str) -> None:
        """Record an informational note (unit conversions, detections)."""
        self.notes.append(message)
        logger.info(message)

    def raise_if_any(self, what: str) -> None:
        """Raise one :class:`lusfeat.ValidationError` listing every error so far."""
        if self.errors:
            raise ValidationError(self.errors, header=f"{what} failed")
