"""Compare the Parquet tables of two output folders (a rerun, or the same study before and after a change)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["TableDifference", "compare_table_folders", "TIMING_COLUMNS"]

#: Columns that record how long something took or how fast it ran; they differ between
#: any two runs and are left out of the comparison.
TIMING_COLUMNS = re.compile(r"(^|_)(seconds|elapsed|elapsed_s|time_s|fps)$|frames_per_second|^seconds")


@dataclass(frozen=True)
class TableDifference:
    """One table that is not the same in both folders.

    Attributes
    ----------
    path : str
        Path of the table relative to the folders.
    problem : str
        ``only in A``, ``only in B``, or what differs (shape, columns, values).
    """

    path: str
    problem: str


def _read(path: Path) -> pd.DataFrame:
    frame = pd.read_parquet(path)
    return frame.drop(columns=[c for c in frame.columns if TIMING_COLUMNS.search(str(c))])


def _difference(a: pd.DataFrame, b: pd.DataFrame) -> str:
    if list(a.columns) != list(b.columns):
        return f"columns differ: {sorted(set(a.columns) ^ set(b.columns))}"
    if a.shape != b.shape:
        return f"shape {a.shape} vs {b.shape}"
    for col in a.columns:
        x, y = a[col].reset_index(drop=True), b[col].reset_index(drop=True)
        if x.equals(y):
            continue
        if pd.api.types.is_numeric_dtype(x) and pd.api.types.is_numeric_dtype(y):
            xv, yv = x.to_numpy(np.float64), y.to_numpy(np.float64)
            both_nan = np.isnan(xv) & np.isnan(yv)
            bad = ~both_nan & (xv != yv)
            if not bad.any():
                continue
            return f"column {col!r}: {int(bad.sum())} value(s) differ, max |diff| {np.nanmax(np.abs(xv - yv)):.3g}"
        return f"column {col!r}: {int((x.astype(str) != y.astype(str)).sum())} value(s) differ"
    if not a.index.equals(b.index):
        return "index differs"
    return ""


def compare_table_folders(a: str | os.PathLike, b: str | os.PathLike,
                          ignore: tuple[str, ...] = ()) -> tuple[int, list[TableDifference]]:
    """Compare every ``*.parquet`` under folder ``a`` with the same path under ``b``, exactly.

    Timing columns (:data:`TIMING_COLUMNS`) are left out; everything else must
    be equal, value for value (NaN equals NaN).

    Parameters
    ----------
    a, b : path-like
        The two folders (e.g. two ``lusfeat demo`` outputs).
    ignore : tuple of str
        Glob patterns of relative paths to leave out (e.g. ``("*/history.parquet",)``).

    Returns
    -------
    n_tables : int
        Tables found in either folder (after ``ignore``).
    differences : list of TableDifference
        Empty when every table is the same.
    """
    a, b = Path(a), Path(b)

    def tables(root: Path) -> set[str]:
        found = {p.relative_to(root).as_posix() for p in root.rglob("*.parquet")}
        return {r for r in found if not any(Path(r).match(g) for g in ignore)}

    in_a, in_b = tables(a), tables(b)
    out = [TableDifference(r, "only in A") for r in sorted(in_a - in_b)]
    out += [TableDifference(r, "only in B") for r in sorted(in_b - in_a)]
    for rel in sorted(in_a & in_b):
        problem = _difference(_read(a / rel), _read(b / rel))
        if problem:
            out.append(TableDifference(rel, problem))
    return len(in_a | in_b), out
