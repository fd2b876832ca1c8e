"""The report's document model: sections made of paragraphs, notes, summaries and figures.

Tables are :class:`lusfeat._summary.Summary` objects, the one results model of
lusfeat (a stage result's ``summary()`` goes into a section as it is;
:func:`table` makes one from rows of :class:`Cell`).

Section builders produce these blocks; :mod:`lusfeat.report._render` turns the
same blocks into HTML and Markdown, so both forms always hold the same content.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from .._summary import Summary, fmt, natural_key

__all__ = [
    "Cell",
    "Grid",
    "table",
    "Figure",
    "Para",
    "Note",
    "Heading",
    "Details",
    "Section",
    "Block",
    "fmt",
    "fmt_p",
    "ci_cell",
    "natural_key",
    "slug",
    "best_flags",
    "summary_grids",
]


@dataclass
class Cell:
    """One table cell.

    Attributes
    ----------
    text : str
        Main text (plain, escaped when rendered).
    sub : str
        Secondary text shown smaller below ``text`` in HTML, after it in Markdown
        (e.g. a confidence interval).
    sort : float or None
        Numeric sort key of the HTML table (``None``: sort by text).
    strong : bool
        Emphasise (best value of a column, significant p-value).
    """

    text: str
    sub: str = ""
    sort: float | None = None
    strong: bool = False

    def __str__(self) -> str:
        return f"{self.text} {self.sub}" if self.sub else self.text


def table(header: Sequence[str], rows: Sequence[Sequence[object]], caption: str = "",
          sortable: bool = True) -> Summary:
    """A report table as a :class:`~lusfeat._summary.Summary` holding one table named ``caption``.

    Parameters
    ----------
    header : sequence of str
        Column headings.
    rows : sequence of sequences
        Cells: :class:`Cell` objects or plain values (numbers through :func:`fmt`,
        sorted by value). A short row is padded with empty cells.
    caption : str
        Shown above the table (also the table's name in the summary).
    sortable : bool
        Whether the HTML table sorts by a clicked column (kept in the
        DataFrame's ``attrs["sortable"]``).

    Returns
    -------
    Summary
        Without pairs; its one table's cells are :class:`Cell` objects.
    """
    cells = [[c if isinstance(c, Cell) else _plain_cell(c) for c in row] for row in rows]
    cells = [row + [Cell("")] * (len(header) - len(row)) for row in cells]
    frame = pd.DataFrame(cells, columns=pd.Index(list(header), dtype=object), dtype=object)
    frame.attrs["sortable"] = bool(sortable)
    return Summary(tables={caption: frame})


@dataclass
class Figure:
    """A PNG image with a caption; ``name`` is its file name in the Markdown folder."""

    png: bytes
    name: str
    caption: str = ""
    alt: str = ""


@dataclass
class Para:
    """A paragraph of plain text."""

    text: str


@dataclass
class Note:
    """A highlighted notice, used when an input is absent or a part was skipped."""

    text: str


@dataclass
class Heading:
    """A sub-heading inside a section (level 3 or 4)."""

    text: str
    level: int = 3


@dataclass
class Details:
    """A group of blocks collapsed in HTML (``<details>``) under ``summary``."""

    summary: str
    blocks: list[Block] = field(default_factory=list)
    open: bool = False


#: A report block. Tables are :class:`lusfeat._summary.Summary` objects: a summary's
#: pairs render as an ``item | value`` table captioned by its title, then each of its
#: tables captioned by its name, then its notes.
Block = Para | Note | Heading | Figure | Details | Summary


@dataclass
class Section:
    """A numbered report section with an anchor ``id``."""

    id: str
    title: str
    blocks: list[Block] = field(default_factory=list)

    @property
    def notes(self) -> list[str]:
        """Texts of the top-level notes (what the section could not show)."""
        return [b.text for b in self.blocks if isinstance(b, Note)]


def summary_grids(s: Summary) -> list[Grid]:
    """The tables a :class:`~lusfeat._summary.Summary` shows in the report, as rows of cells.

    Its ``(label, value)`` pairs become an unsortable ``item | value`` table
    captioned by the title (strings as they are, numbers through :func:`fmt`);
    each named table follows, captioned by its name (sortable unless its
    ``attrs["sortable"]`` is false), its cells as they are when they are
    :class:`Cell` objects, else through :func:`fmt`.
    """
    out = []
    if s.info:
        rows = [[Cell(str(k)), Cell(v if isinstance(v, str) else fmt(v))] for k, v in s.info]
        out.append(Grid(["item", "value"], rows, s.title, False))
    for name, df in s.tables.items():
        frame = df.reset_index() if df.index.name is not None else df
        rows = [[c if isinstance(c, Cell) else _plain_cell(c) for c in row] for row in frame.to_numpy().tolist()]
        out.append(Grid([str(c) for c in frame.columns], rows, name, bool(df.attrs.get("sortable", True))))
    return out


@dataclass(frozen=True)
class Grid:
    """How the renderer lays out one table of a Summary: header, rows of cells, caption, sortable."""

    header: list[str]
    rows: list[list[Cell]]
    caption: str
    sortable: bool


def fmt_p(p: object) -> str:
    """Format a p-value: ``<0.001`` below 0.001, else 3 decimals; ``n/a`` when missing."""
    try:
        v = float(p)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "n/a"
    if not math.isfinite(v):
        return "n/a"
    return "<0.001" if v < 0.001 else f"{v:.3f}"


def _finite(v: object) -> float | None:
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _plain_cell(value: object) -> Cell:
    if isinstance(value, str):
        return Cell(value)
    return Cell(fmt(value), sort=_finite(value))


def ci_cell(estimate: object, low: object, high: object, strong: bool = False) -> Cell:
    """A cell ``estimate`` with ``[low, high]`` below it (omitted when both bounds are missing)."""
    lo, hi = _finite(low), _finite(high)
    sub = "" if lo is None and hi is None else f"[{fmt(low)}, {fmt(high)}]"
    return Cell(fmt(estimate), sub=sub, sort=_finite(estimate), strong=strong)


def slug(text: str) -> str:
    """A file- and anchor-safe version of ``text``."""
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", str(text)).strip("-.")
    return s or "item"


def best_flags(values: Sequence[object], higher_is_better: bool | None) -> list[bool]:
    """Mark the best finite value(s) of a column (``None``, or all values equal: mark nothing)."""
    vals = [_finite(v) for v in values]
    finite = [v for v in vals if v is not None]
    if higher_is_better is None or len(finite) < 2 or min(finite) == max(finite):
        return [False] * len(vals)
    best = max(finite) if higher_is_better else min(finite)
    return [v is not None and v == best for v in vals]
