"""The comparison plan of an analysis: primary endpoints and adjustment families.

Decided from the options alone, before any model is fitted, and written to
``plan.json`` in the analysis folder so a reader sees what was decided before
the data were looked at.

Primary metric per task (:data:`PRIMARY_METRICS`, overridable per task):

* ``sf``: mean absolute error of S/F (``mae``, lower is better);
* ``sf-change``: AUC (``auc``; ``auc_ovr`` with three classes);
* ``readmission``: AUC (``auc``).

Families of hypotheses:

* **confirmatory**: every compared pipeline against the reference on the
  task's primary metric, for every task and model family (and, with a
  designated ``best`` pipeline, every other compared pipeline against it);
  Holm's step-down adjustment controls the family-wise error rate over the
  whole family (``p_holm``). For an AUC the test is DeLong's (Obuchowski's
  clustered DeLong when a patient contributes several rows); otherwise the
  paired patient bootstrap.
* **exploratory**: every other comparison (secondary metrics, the bootstrap
  twin of a DeLong AUC test); Benjamini-Hochberg within this family only
  (``p_bh``), reported as exploratory.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._errors import InputError
from ._metrics import metric_names

__all__ = ["PRIMARY_METRICS", "ComparisonPlan", "make_plan", "parse_primary"]

#: Default primary metric per task (multiclass sf-change uses ``auc_ovr``).
PRIMARY_METRICS: dict[str, str] = {"sf": "mae", "sf-change": "auc", "readmission": "auc"}

_KINDS = {"sf": "regression", "readmission": "binary"}


def _kind(task: str, change_classes: int) -> str:
    if task == "sf-change":
        return "binary" if change_classes == 2 else "multiclass"
    return _KINDS[task]


def parse_primary(items: str | Sequence[str] | Mapping[str, str] | None) -> dict[str, str]:
    """Primary-metric overrides from ``TASK=METRIC`` strings or a mapping.

    Parameters
    ----------
    items : str, sequence of str, mapping or None
        E.g. ``["sf=rmse", "readmission=brier"]`` or ``{"sf": "rmse"}``.

    Returns
    -------
    dict of task -> metric

    Raises
    ------
    InputError
        For an item that is not ``TASK=METRIC`` or an unknown task.

    Examples
    --------
    >>> parse_primary(["sf=rmse"])
    {'sf': 'rmse'}
    """
    if items is None:
        return {}
    if isinstance(items, Mapping):
        pairs = [(str(k), str(v)) for k, v in items.items()]
    else:
        pairs = []
        for it in ([items] if isinstance(items, str) else items):
            task, sep, metric = str(it).partition("=")
            if not sep or not task or not metric:
                raise InputError(f"--primary expects TASK=METRIC (e.g. sf=rmse); got {it!r}")
            pairs.append((task.strip(), metric.strip()))
    out = {}
    for task, metric in pairs:
        if task not in PRIMARY_METRICS:
            raise InputError(f"--primary: unknown task {task!r}; choose from {tuple(PRIMARY_METRICS)}")
        out[task] = metric
    return out


@dataclass(frozen=True)
class ComparisonPlan:
    """What an analysis tests, fixed before any model is fitted.

    Attributes
    ----------
    reference : str
        Baseline pipeline every other pipeline is compared with.
    pipelines : tuple of str
        All pipelines, reference first.
    best : str or None
        Pipeline designated (before the analysis) as the best one; the other
        compared pipelines are also tested against it on the primary metric.
    tasks : dict of task -> {"kind": str, "primary": str, "secondary": list of str}
    models : tuple of str
    alpha : float
        Family-wise error rate of the confirmatory family.
    """

    reference: str
    pipelines: tuple[str, ...]
    best: str | None
    tasks: dict[str, dict[str, Any]]
    models: tuple[str, ...]
    alpha: float = 0.05
    notes: tuple[str, ...] = field(default_factory=tuple)

    def primary(self, task: str) -> str:
        """Primary metric of ``task``."""
        return self.tasks[task]["primary"]

    def confirmatory_hypotheses(self) -> list[dict[str, str]]:
        """Every confirmatory comparison: task, model, metric, pipeline, reference."""
        out = []
        for task, t in self.tasks.items():
            for model in self.models:
                for p in self.pipelines[1:]:
                    out.append({"task": task, "model": model, "metric": t["primary"], "pipeline": p,
                                "reference": self.reference})
                if self.best is not None:
                    for p in self.pipelines[1:]:
                        if p != self.best:
                            out.append({"task": task, "model": model, "metric": t["primary"],
                                        "pipeline": p, "reference": self.best})
        return out

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (``plan.json``)."""
        return {
            "reference": self.reference, "pipelines": list(self.pipelines), "best": self.best,
            "models": list(self.models), "alpha": self.alpha,
            "tasks": {k: dict(v) for k, v in self.tasks.items()},
            "families": {
                "confirmatory": {
                    "definition": "each pipeline vs the reference" + (" and vs the designated best"
                                                                       if self.best else "")
                                  + " on the task's primary metric, every task and model family",
                    "adjustment": "holm", "column": "p_holm",
                    "test": "DeLong for AUC (clustered by patient when patients contribute several "
                            "rows), paired patient bootstrap otherwise",
                    "hypotheses": self.confirmatory_hypotheses(),
                },
                "exploratory": {
                    "definition": "every other comparison (secondary metrics; bootstrap twin of a "
                                  "DeLong test)",
                    "adjustment": "fdr_bh", "column": "p_bh",
                },
            },
            "notes": list(self.notes),
        }

    def describe(self) -> str:
        """A few lines for the terminal and ``summary()``."""
        lines = ["Comparison plan (fixed before fitting):"]
        for task, t in self.tasks.items():
            lines.append(f"  {task}: primary metric {t['primary']}; secondary (exploratory): "
                         f"{', '.join(t['secondary']) or 'none'}")
        n = len(self.confirmatory_hypotheses())
        vs = f"{self.reference!r}" + (f" and the designated best {self.best!r}" if self.best else "")
        lines.append(f"  confirmatory family: {n} comparison(s) of each pipeline vs {vs} on the primary "
                     f"metric, Holm-adjusted (alpha {self.alpha:g})")
        lines.append("  exploratory family: all other comparisons, Benjamini-Hochberg within that family")
        return "\n".join(lines)


def make_plan(
    pipelines: Sequence[str],
    tasks: Sequence[str],
    models: Sequence[str],
    *,
    change_classes: int = 2,
    primary: Mapping[str, str] | None = None,
    best: str | None = None,
    alpha: float = 0.05,
) -> ComparisonPlan:
    """Build and check the comparison plan.

    Parameters
    ----------
    pipelines : sequence of str
        Pipeline names, reference first.
    tasks, models : sequence of str
    change_classes : {2, 3}
        Classes of sf-change (3 classes: primary ``auc_ovr``).
    primary : mapping of task -> metric, optional
        Overrides of :data:`PRIMARY_METRICS`.
    best : str, optional
        A compared pipeline designated as best before the analysis.
    alpha : float
        Family-wise error rate.

    Returns
    -------
    ComparisonPlan

    Raises
    ------
    InputError
        For a primary metric the task does not report, or an unknown ``best``.
    """
    primary = dict(primary or {})
    if not 0 < alpha < 1:
        raise InputError(f"alpha must be in (0, 1); got {alpha}")
    spec: dict[str, dict[str, Any]] = {}
    for task in tasks:
        kind = _kind(task, change_classes)
        names = metric_names(kind)
        default = PRIMARY_METRICS[task]
        if kind == "multiclass" and default == "auc":
            default = "auc_ovr"
        metric = primary.get(task, default)
        if metric not in names:
            raise InputError(f"--primary {task}={metric}: task {task} ({kind}) reports {list(names)}; "
                             "choose one of them")
        spec[task] = {"kind": kind, "primary": metric, "secondary": [m for m in names if m != metric]}
    pipes = tuple(pipelines)
    if best is not None and best not in pipes[1:]:
        raise InputError(f"best pipeline {best!r} is not one of the compared pipelines {list(pipes[1:])}")
    return ComparisonPlan(reference=pipes[0], pipelines=pipes, best=best, tasks=spec, models=tuple(models),
                          alpha=alpha)
