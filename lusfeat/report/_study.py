"""Read a study folder for the report: ``study.json``, the tables, stage timings.

Only artifacts are read (see :mod:`lusfeat.pipeline` for the layout). Tables
that are absent or lack columns are recorded with the reason, so each section
can say what it could not show instead of failing.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .._errors import InputError
from .._io import file_digest, read_json
from ._doc import natural_key

__all__ = ["StudyInputs", "open_study", "TABLE_COLUMNS", "parse_pipeline"]

STUDY_FORMAT = "lusfeat-study"

#: Columns each study table must have for the report to use it.
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "segmentation": ("pipeline", "reference", "class", "metric", "estimate", "ci_low", "ci_high"),
    "downstream": ("task", "kind", "pipeline", "model", "metric", "estimate", "ci_low", "ci_high",
                   "ci_method", "reference", "difference", "p", "p_holm", "p_bh"),
    "seeds": ("strategy", "table", "task", "group", "metric", "n_seeds", "mean", "sd", "min", "max"),
}

_PIPELINE_RE = re.compile(r"^(?P<family>labels|threshold)-(?P<t>\d+)(?:-s(?P<seed>\d+))?$")


def parse_pipeline(name: str) -> tuple[str, int | None, int | None]:
    """Split a pipeline name into (family, threshold, seed index).

    Examples
    --------
    >>> parse_pipeline("threshold-60-s1"), parse_pipeline("labels-80"), parse_pipeline("soft")
    (('threshold', 60, 1), ('labels', 80, None), ('soft', None, None))
    """
    m = _PIPELINE_RE.match(str(name))
    if m is None:
        base = re.sub(r"-s\d+$", "", str(name))
        seed = re.search(r"-s(\d+)$", str(name))
        return base, None, int(seed.group(1)) if seed else None
    return m["family"], int(m["t"]), int(m["seed"]) if m["seed"] is not None else None



@dataclass
class StudyInputs:
    """What the report reads from a study folder.

    Attributes
    ----------
    path : Path
        The study folder.
    meta : dict
        Parsed ``study.json``.
    tables : dict of str -> DataFrame
        ``segmentation``, ``downstream`` and ``seeds`` when present and complete.
    missing : dict of str -> str
        Tables that could not be used, with the reason.
    fingerprints : dict of str -> str
        SHA-256 prefix of ``study.json`` and of each table file read.
    assembled : dict of str -> str
        Tables missing from ``tables/`` that were assembled from the
        per-pipeline outputs (``evaluation/*/summary.parquet``,
        ``analysis/*/results.parquet``) of an unfinished study, with a note.
    """

    path: Path
    meta: dict[str, Any]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    fingerprints: dict[str, str] = field(default_factory=dict)
    assembled: dict[str, str] = field(default_factory=dict)

    def table(self, name: str) -> pd.DataFrame | None:
        """The table ``name`` or ``None`` (see :attr:`missing` for why)."""
        return self.tables.get(name)

    @property
    def pipelines(self) -> dict[str, dict[str, Any]]:
        """``study.json`` pipelines: name -> {kind, strategy, seed | source}."""
        p = self.meta.get("pipelines")
        return p if isinstance(p, dict) else {}

    def order(self, names) -> list[str]:
        """``names`` in the study's pipeline order (baseline and strategies first), others after.

        Strategy names without the ``-s<seed>`` suffix take their first seed's place.
        """
        known: dict[str, int] = {}
        for i, n in enumerate(self.pipelines):
            known.setdefault(n, i)
            known.setdefault(re.sub(r"-s\d+$", "", n), i)
        return sorted(dict.fromkeys(str(n) for n in names),
                      key=lambda n: (0, known[n], ()) if n in known else (1, 0, natural_key(n)))

    def cohort_path(self) -> tuple[Path | None, str]:
        """The cohort folder and, when it cannot be found, why.

        ``study.json``'s ``cohort`` (absolute, or relative to the study or the
        working folder); a moved study falls back to a ``cohort`` folder next
        to or inside it.
        """
        raw = self.meta.get("cohort")
        if isinstance(raw, dict):
            raw = raw.get("path")
        candidates: list[Path] = []
        if isinstance(raw, str) and raw:
            p = Path(raw)
            candidates += [p] if p.is_absolute() else [self.path / p, Path.cwd() / p]
        candidates += [self.path / "cohort", self.path.parent / "cohort"]
        for c in candidates:
            if (c / "cohort.json").is_file():
                return c, ""
        if not raw:
            return None, f"{self.path / 'study.json'} names no cohort"
        return None, f"the cohort {raw} named in study.json was not found"

    def stage_timings(self) -> pd.DataFrame:
        """One row per stage: ``stage, kind, pipeline, seconds, cached``, slowest first.

        From ``study.json``'s ``stages`` or, for an unfinished study, the cache
        markers in ``.stages/``.
        """
        rows: list[dict[str, Any]] = []
        stages = self.meta.get("stages")
        if isinstance(stages, list):
            rows = [s for s in stages if isinstance(s, dict)]
        elif isinstance(stages, dict):
            rows = [{"stage": k, **(v if isinstance(v, dict) else {"seconds": v})} for k, v in stages.items()]
        if not rows and (self.path / ".stages").is_dir():
            for m in sorted((self.path / ".stages").glob("*.json")):
                try:
                    d = read_json(m)
                except InputError:
                    continue
                rows.append({"stage": d.get("stage", m.stem.replace("__", "/")), "kind": d.get("kind"),
                             "pipeline": d.get("pipeline"), "seconds": d.get("seconds"), "cached": None})
        df = pd.DataFrame(rows)
        for col in ("stage", "kind", "pipeline", "seconds", "cached"):
            if col not in df.columns:
                df[col] = None
        df = df[["stage", "kind", "pipeline", "seconds", "cached"]].copy()
        df["seconds"] = pd.to_numeric(df["seconds"], errors="coerce")
        if df["kind"].isna().any():
            guess = df["stage"].astype(str).str.split("/").str[0]
            df["kind"] = df["kind"].where(df["kind"].notna(), guess)
        return df.sort_values("seconds", ascending=False, na_position="last", kind="stable").reset_index(drop=True)


#: Per-pipeline outputs a missing study table can be assembled from (unfinished studies):
#: table -> (glob under the study, column naming the folder).
_PARTS: dict[str, tuple[str, str]] = {
    "segmentation": ("evaluation/*/summary.parquet", "pipeline"),
    "downstream": ("analysis/*/results.parquet", "analysis"),
}


def _assemble(study: StudyInputs, name: str, cols: tuple[str, ...]) -> None:
    """Build a missing table from the per-pipeline outputs of an unfinished study."""
    pattern, column = _PARTS[name]
    parts = []
    for f in sorted(study.path.glob(pattern)):
        try:
            df = pd.read_parquet(f)
        except Exception:  # pyarrow raises several types for corrupt files
            continue
        if df.empty:
            continue
        df.insert(0, column, f.parent.name)
        if name == "segmentation":
            info = study.pipelines.get(f.parent.name, {})
            df.insert(1, "strategy", info.get("strategy", f.parent.name))
            df.insert(2, "seed", info.get("seed"))
        parts.append(df)
        study.fingerprints[str(f.relative_to(study.path))] = file_digest(f)
    if not parts:
        return
    df = pd.concat(parts, ignore_index=True)
    if any(c not in df.columns for c in cols):
        return
    study.tables[name] = df
    study.assembled[name] = (f"{study.missing.pop(name)}; assembled from {len(parts)} file(s) "
                             f"{pattern} (the study may be unfinished)")


def _not_a_study(path: Path, why: str) -> InputError:
    hint = ""
    if (path / "cohort.json").exists():
        hint = " (it is a cohort folder; run `lusfeat sweep COHORT --out STUDY` and report on STUDY)"
    return InputError(
        f"{path} is not a lusfeat study: {why}{hint}. Pass the folder written by `lusfeat sweep`, "
        "which holds study.json and tables/"
    )


def open_study(path: str | os.PathLike) -> StudyInputs:
    """Open a study folder: read ``study.json`` and whichever tables exist.

    Parameters
    ----------
    path : path-like
        Study folder written by ``lusfeat sweep``.

    Returns
    -------
    StudyInputs

    Raises
    ------
    InputError
        When ``path`` is not a folder, has no ``study.json``, or ``study.json`` is
        broken or of another format.
    """
    path = Path(path)
    if not path.is_dir():
        raise _not_a_study(path, "the folder does not exist" if not path.exists() else "it is not a folder")
    meta_path = path / "study.json"
    if not meta_path.is_file():
        raise _not_a_study(path, f"{meta_path.name} is missing")
    meta = read_json(meta_path)
    if not isinstance(meta, dict):
        raise _not_a_study(path, f"{meta_path} holds a {type(meta).__name__}, expected a JSON object")
    fmt = meta.get("format")
    if fmt is not None and fmt != STUDY_FORMAT:
        raise _not_a_study(path, f"{meta_path} has format {fmt!r}, expected {STUDY_FORMAT!r}")
    study = StudyInputs(path=path, meta=meta, fingerprints={"study.json": file_digest(meta_path)})
    for name, cols in TABLE_COLUMNS.items():
        p = path / "tables" / f"{name}.parquet"
        if not p.is_file():
            study.missing[name] = f"{p} is missing"
            if name in _PARTS:
                _assemble(study, name, cols)
            continue
        try:
            df = pd.read_parquet(p)
        except Exception as exc:  # pyarrow raises several types for corrupt files
            study.missing[name] = f"{p} is unreadable ({type(exc).__name__}: {exc})"
            continue
        study.fingerprints[f"tables/{name}.parquet"] = file_digest(p)
        if df.empty:
            study.missing[name] = f"{p} has no rows"
            continue
        lacking = [c for c in cols if c not in df.columns]
        if lacking:
            study.missing[name] = f"{p} lacks columns {lacking}"
            continue
        study.tables[name] = df
    return study
