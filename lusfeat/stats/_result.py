"""The analysis result object and its on-disk form.

Output folder (written atomically)::

    OUT/
      analysis.json        what made it: options, versions, seed, input fingerprints,
                           exclusions, skipped tasks/pipelines, foreign feature tables
      plan.json            the comparison plan fixed before fitting: primary metric per
                           task, confirmatory and exploratory families, adjustments
      results.parquet      tidy results (columns: RESULT_COLUMNS)
      results.csv          the same as CSV
      predictions.parquet  out-of-fold predictions, one row per (task, pipeline, model,
                           repeat, row)
      summary.txt          str(AnalysisResult.summary())
      summaries/<task>__<pipeline>__<model>.txt   full-data model summaries
      plots/*.png          predicted vs observed S/F; ROC and calibration curves with
                           bootstrap CI bands
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._io import atomic_dir, write_json
from .._summary import Summary
from ._plan import ComparisonPlan
from ._plots import write_plots
from ._summary import ModelSummary

__all__ = ["AnalysisResult", "AnalysisSummary", "RESULT_COLUMNS"]

#: Columns of the tidy results table. In ``kind == "metric"`` rows ``estimate``
#: is the metric and the CI bounds it; in ``kind == "comparison"`` rows
#: ``estimate`` is the compared pipeline's metric, ``difference`` is
#: ``pipeline - reference`` and the CI bounds the difference. ``primary`` marks the
#: task's primary metric; ``family`` (comparisons) is ``confirmatory`` (Holm-adjusted
#: ``p_holm``, BH ``p_bh`` within the family) or ``exploratory`` (``p_bh`` within the
#: exploratory family, ``p_holm`` NaN).
RESULT_COLUMNS = (
    "task", "kind", "pipeline", "model", "method", "metric", "estimate", "ci_low", "ci_high",
    "ci_method", "reference", "difference", "p", "p_holm", "p_bh", "n", "n_patients",
    "primary", "family",
)


@dataclass
class AnalysisSummary(Summary):
    """The summary of an analysis (:meth:`AnalysisResult.summary`); text as in ``summary.txt``.

    Attributes
    ----------
    plan_text : str
        The comparison plan as :meth:`ComparisonPlan.describe` writes it.
    """

    plan_text: str = ""

    def as_text(self) -> str:
        """Title, pairs, exclusions and skips, the plan, then the three tables with captions."""
        info = dict(self.info)
        lines = [self.title, "=" * len(self.title), f"pipelines: {info['pipelines']}", f"CV: {info['CV']}", ""]
        lines += self.notes
        if self.plan_text:
            lines += ["", self.plan_text]
        fmt = lambda v: f"{v:.4g}"  # noqa: E731
        if len(self.tables["metrics"]):
            lines += ["", "Metrics, estimate [95% BCa CI] (out-of-fold, averaged over repeats; "
                      "* primary metric, others secondary/exploratory):", self.tables["metrics"].to_string()]
        if len(self.tables["confirmatory"]):
            lines += ["", "Confirmatory comparisons (pipeline - reference, primary metric; Holm-adjusted):",
                      self.tables["confirmatory"].to_string(index=False, float_format=fmt)]
        if len(self.tables["exploratory"]):
            lines += ["", "Exploratory comparisons (secondary metrics and supporting tests; "
                      "BH within the exploratory family, not confirmatory):",
                      self.tables["exploratory"].to_string(index=False, float_format=fmt)]
        return "\n".join(lines)


def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", s)


@dataclass
class AnalysisResult:
    """Everything one :func:`lusfeat.stats.analyze` run produced.

    Attributes
    ----------
    results : pandas.DataFrame
        Tidy table, columns :data:`RESULT_COLUMNS`.
    predictions : pandas.DataFrame
        Out-of-fold predictions: ``task, pipeline, model, repeat, fold, row_id,
        patient_id, exam_id, y_true, y_pred`` (+ ``prob_<class>`` for three classes).
    models : dict of (task, pipeline, model) -> ModelSummary
        Summaries of models fitted on all rows of a task.
    skipped : dict of str -> str
        Tasks, pipelines or (task/model) combinations that did not run, with the reason.
    excluded : dict of task -> dict of reason -> count
        Rows excluded from each task.
    meta : dict
        Options, versions, seed and input fingerprints.
    plan : ComparisonPlan or None
        The comparison plan (primary metrics, families), fixed before fitting.
    out : Path or None
        Output folder when one was written.
    """

    results: pd.DataFrame
    predictions: pd.DataFrame
    models: dict[tuple[str, str, str], ModelSummary] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    excluded: dict[str, dict[str, int]] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    plan: ComparisonPlan | None = None
    out: Path | None = None

    def table(self, ci_method: str = "bca") -> pd.DataFrame:
        """Metric rows as a wide table (task, model, metric x pipeline) of ``estimate [low, high]``."""
        m = self.results[(self.results["kind"] == "metric") & (self.results["ci_method"] == ci_method)]
        if m.empty:
            return pd.DataFrame()
        cell = m.apply(lambda r: f"{r.estimate:.3f} [{r.ci_low:.3f}, {r.ci_high:.3f}]", axis=1)
        m = m.assign(metric=np.where(m["primary"].fillna(False).astype(bool), "*" + m["metric"], m["metric"]))
        return (m.assign(cell=cell)
                .pivot_table(index=["task", "model", "metric"], columns="pipeline", values="cell",
                             aggfunc="first", sort=False))

    def summary(self) -> AnalysisSummary:
        """Options, exclusions, skips, the plan, metrics with CIs and comparisons.

        Returns
        -------
        AnalysisSummary
            Pairs ``pipelines`` and ``CV``; tables ``metrics`` (estimate [95% BCa
            CI], task x model x metric by pipeline), ``confirmatory`` and
            ``exploratory`` comparisons; notes for exclusions and skips. ``str()``
            of it is ``summary.txt``.
        """
        o = self.meta.get("options", {})
        info = [("pipelines", f"{', '.join(self.meta.get('pipelines', {}))} "
                              f"(reference: {self.meta.get('reference')})"),
                ("CV", f"{o.get('folds')}-fold x {o.get('repeats')} repeats, patient-grouped; "
                       f"bootstrap: {o.get('bootstrap')} patient resamples; seed {o.get('seed')}")]
        notes = [f"[{task}] excluded {n}: {reason}" for task, ex in self.excluded.items()
                 for reason, n in ex.items()]
        notes += [f"[{key}] skipped: {why}" for key, why in self.skipped.items()]
        comp = self.results[self.results["kind"] == "comparison"]
        cols = ["task", "model", "metric", "pipeline", "reference", "difference", "ci_low",
                "ci_high", "ci_method", "p"]
        conf = comp[comp["family"] == "confirmatory"]
        expl = comp[comp["family"] != "confirmatory"]
        tables = {"metrics": self.table("bca"), "confirmatory": conf[cols + ["p_holm"]],
                  "exploratory": expl[cols + ["p_bh"]]}
        return AnalysisSummary(title="lusfeat analysis", info=info, tables=tables, notes=notes,
                               plan_text=self.plan.describe() if self.plan is not None else "")

    def write(self, out: str | Path, overwrite: bool = False) -> Path:
        """Write all outputs to ``out`` atomically (see the module docstring for the layout)."""
        out = Path(out)
        with atomic_dir(out, overwrite=overwrite) as tmp:
            self.results.to_parquet(tmp / "results.parquet", index=False)
            self.results.to_csv(tmp / "results.csv", index=False)
            self.predictions.to_parquet(tmp / "predictions.parquet", index=False)
            (tmp / "summaries").mkdir()
            for (task, pipe, model), s in self.models.items():
                (tmp / "summaries" / f"{_slug(task)}__{_slug(pipe)}__{_slug(model)}.txt").write_text(
                    s.as_text() + "\n")
            (tmp / "summary.txt").write_text(self.summary().as_text() + "\n")
            kinds = {t: d.get("kind") for t, d in self.meta.get("tasks", {}).items()}
            plots = write_plots(self.predictions, kinds, tmp / "plots")
            meta = dict(self.meta)
            meta["outputs"] = {"results": ["results.parquet", "results.csv"],
                               "predictions": "predictions.parquet",
                               "summaries": sorted(p.name for p in (tmp / "summaries").iterdir()),
                               "plots": sorted(p.name for p in plots)}
            meta["skipped"] = self.skipped
            meta["excluded"] = self.excluded
            if self.plan is not None:
                write_json(tmp / "plan.json", self.plan.as_dict())
                meta["outputs"]["plan"] = "plan.json"
            write_json(tmp / "analysis.json", meta)
        self.out = out
        return out


def empty_results() -> pd.DataFrame:
    """An empty results table with the right columns."""
    return pd.DataFrame({c: pd.Series(dtype=np.float64 if c in (
        "estimate", "ci_low", "ci_high", "difference", "p", "p_holm", "p_bh") else bool if c == "primary"
        else object) for c in RESULT_COLUMNS})
