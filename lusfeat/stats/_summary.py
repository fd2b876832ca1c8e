"""Plain-text model summaries in the spirit of statsmodels' ``summary()``.

A summary only assembles ``(label, value)`` pairs and a coefficient table;
:class:`ModelSummary` renders them as text or hands back the table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["ModelSummary"]


def _fmt(v: object) -> str:
    if isinstance(v, (float, np.floating)):
        if not np.isfinite(v):
            return "nan"
        a = abs(float(v))
        return f"{v:.4g}" if (a >= 1e-3 and a < 1e5) or a == 0 else f"{v:.3e}"
    return str(v)


@dataclass
class ModelSummary:
    """A fitted model described by header pairs, a coefficient table and notes.

    Attributes
    ----------
    title : str
        One line naming model, task and pipeline.
    info : list of (str, object)
        Header pairs (method, rows, patients, covariance type, ...).
    table : pandas.DataFrame
        One row per term (coefficients, odds ratios or importances).
    notes : list of str
        Caveats printed under the table.
    """

    title: str
    info: list[tuple[str, object]] = field(default_factory=list)
    table: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: list[str] = field(default_factory=list)

    def as_frame(self) -> pd.DataFrame:
        """The coefficient table."""
        return self.table.copy()

    def as_text(self, max_rows: int = 40) -> str:
        """Render the summary as fixed-width text.

        Parameters
        ----------
        max_rows : int
            Rows of the table shown; the rest are counted in a final line.
        """
        width = 78
        lines = [self.title.center(width), "=" * width]
        pairs = [f"{k + ':':<22}{_fmt(v)}" for k, v in self.info]
        pending = ""
        for pair in pairs:
            if len(pair) > 38:
                if pending:
                    lines.append(pending)
                    pending = ""
                lines.append(pair)
            elif pending:
                lines.append(f"{pending:<39}{pair}")
                pending = ""
            else:
                pending = pair
        if pending:
            lines.append(pending)
        lines.append("=" * width)
        if len(self.table):
            shown = self.table.head(max_rows)
            text = shown.to_string(float_format=_fmt)
            lines += text.splitlines()
            if len(self.table) > max_rows:
                lines.append(f"... {len(self.table) - max_rows} more rows")
            lines.append("-" * width)
        lines += [f"Note: {n}" for n in self.notes]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.as_text()
