"""One results model: a summary is ``(label, value)`` pairs plus named tables and notes.

Every stage result of lusfeat (a fitted model, an analysis, a segmentation
evaluation) answers ``summary()`` with a :class:`Summary`. A summary only
assembles; it renders itself as text (:meth:`Summary.as_text`, also
``str()``), HTML (:meth:`Summary.as_html`) and DataFrames
(:meth:`Summary.as_frame`, :attr:`Summary.tables`). A stage whose text form
has its own layout overrides :meth:`Summary.as_text` only (statsmodels keeps
the same split between ``Summary`` and its ``as_text``/``as_html``).
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["Summary", "fmt", "natural_key"]


@dataclass
class Summary:
    """Header pairs, named tables and notes of one result.

    Attributes
    ----------
    title : str
        One line naming what is summarised.
    info : list of (str, object)
        Header pairs (method, rows, options, ...).
    tables : dict of str -> pandas.DataFrame
        Named tables, in display order.
    notes : list of str
        Caveats printed after the tables (warnings start with ``warning:``).
    """

    title: str = ""
    info: list[tuple[str, object]] = field(default_factory=list)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def as_frame(self, name: str | None = None) -> pd.DataFrame:
        """A table by ``name``; without a name, the header pairs as a ``label, value`` DataFrame."""
        if name is not None:
            return self.tables[name].copy()
        return pd.DataFrame(self.info, columns=["label", "value"])

    def as_text(self) -> str:
        """Plain text: title, ``label: value`` lines, each table, the notes."""
        lines = [self.title] if self.title else []
        lines += [f"{k}: {v}" for k, v in self.info]
        for name, table in self.tables.items():
            lines += ["", f"{name}:", table.to_string()]
        lines += [f"Note: {n}" for n in self.notes]
        return "\n".join(lines)

    def as_html(self) -> str:
        """An HTML fragment: the title as a heading, the pairs as a definition list, the tables."""
        parts = [f"<h3>{html.escape(self.title)}</h3>"] if self.title else []
        if self.info:
            parts.append("<dl>" + "".join(f"<dt>{html.escape(str(k))}</dt><dd>{html.escape(str(v))}</dd>"
                                          for k, v in self.info) + "</dl>")
        for name, table in self.tables.items():
            parts.append(f"<h4>{html.escape(name)}</h4>")
            parts.append(table.to_html(border=0, na_rep="n/a"))
        parts += [f"<p class=\"note\">{html.escape(n)}</p>" for n in self.notes]
        return "\n".join(parts)

    def _repr_html_(self) -> str:
        return self.as_html()

    def __str__(self) -> str:
        return self.as_text()


def fmt(value: object, digits: int = 3) -> str:
    """Format a number for a table: 3 decimals below 10, fewer above, ``n/a`` for NaN/None.

    Examples
    --------
    >>> fmt(0.81234), fmt(12.345), fmt(1234.5), fmt(float("nan"))
    ('0.812', '12.35', '1,234', 'n/a')
    """
    if value is None:
        return "n/a"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}" if abs(int(value)) >= 10000 else str(int(value))
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(v):
        return "n/a"
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.1f}"
    if a >= 10:
        return f"{v:.2f}"
    return f"{v:.{digits}f}"


def natural_key(name: str) -> tuple:
    """Sort key that orders ``threshold-50`` before ``threshold-100``."""
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(name)))
