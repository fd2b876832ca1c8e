"""Plain-text model summaries in the spirit of statsmodels' ``summary()``.

A summary only assembles ``(label, value)`` pairs and a coefficient table;
:class:`ModelSummary` (a :class:`lusfeat._summary.Summary`) renders them as
text, HTML or hands back the table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._summary import Summary

__all__ = ["ModelSummary"]


def _fmt(v: object) -> str:
    if isinstance(v, (float, np.floating)):
        if not np.isfinite(v):
            return "nan"
        a = abs(float(v))
        return f"{v:.4g}" if (a >= 1e-3 and a < 1e5) or a == 0 else f"{v:.3e}"
    return str(v)


class ModelSummary(Summary):
    """A fitted model described by header pairs, a coefficient table and notes.

    A :class:`lusfeat._summary.Summary` with one table, ``"coefficients"``
    (coefficients, odds ratios or importances, one row per term), and a
    statsmodels-like fixed-width text form.

    Parameters
    ----------
    title : str
        One line naming model, task and pipeline.
    info : list of (str, object)
        Header pairs (method, rows, patients, covariance type, ...).
    table : pandas.DataFrame
        One row per term.
    notes : list of str
        Caveats printed under the table.
    """

    def __init__(self, title: str, info: list[tuple[str, object]] | None = None,
                 table: pd.DataFrame | None = None, notes: list[str] | None = None) -> None:
        super().__init__(title=title, info=list(info or []),
                         tables={"coefficients": pd.DataFrame() if table is None else table},
                         notes=list(notes or []))

    @property
    def table(self) -> pd.DataFrame:
        """The coefficient table."""
        return self.tables["coefficients"]

    def as_frame(self, name: str | None = "coefficients") -> pd.DataFrame:
        """The coefficient table (or another table by name; ``None``: the header pairs)."""
        return super().as_frame(name)

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

