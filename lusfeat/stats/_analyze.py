"""``analyze``: cross-validated models, cluster-bootstrap CIs and paired comparisons.

For every task and model family, every pipeline is evaluated on identical rows
and identical patient-grouped folds (repeat ``r`` seeded ``seed + r``). The
out-of-fold predictions of the repeats are averaged per row, and each metric
is computed on them. One cluster bootstrap per (task, model) resamples
patients and evaluates the metrics of every pipeline *and* their differences
to the reference on the same resamples (a paired bootstrap); it gives
percentile and BCa CIs for the metrics, percentile CIs and two-sided p-values
(from the bootstrap standard error) for the differences. AUCs are also
compared with DeLong's test: the paired test where each patient contributes
one row (readmission), Obuchowski's clustered DeLong where patients
contribute several rows (sf-change pairs).

The comparison plan (:mod:`lusfeat.stats._plan`) is fixed from the options
before any model is fitted and written to ``plan.json``: per task a primary
metric; the confirmatory family (each pipeline vs the reference on the
primary metric, and optionally vs a designated best pipeline) is
Holm-adjusted, every other comparison is exploratory and BH-adjusted within
its own family. Binary decisions use each fold's Youden threshold.
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._config import AnalysisConfig
from .._errors import InputError, LusfeatError
from .._version import __version__
from ._bootstrap import bootstrap_p_value, cluster_bootstrap
from ._cv import class_patient_counts, repeated_group_kfold
from ._delong import clustered_delong_test, delong_test
from ._inputs import FeatureSource, load_clinical, load_pipelines
from ._metrics import evaluate, metric_names
from ._models import collected_fit_warnings, fit_model
from ._plan import ComparisonPlan, make_plan
from ._result import RESULT_COLUMNS, AnalysisResult
from ._tasks import CHANGE_MARGIN, TaskData, TaskSkipped, build_task, match_pipeline

__all__ = ["analyze"]

logger = logging.getLogger(__name__)


class _Progress:
    """A rich progress bar over CV fits and bootstrap resamples (or nothing)."""

    def __init__(self, enabled: bool, fits: int, resamples: int) -> None:
        self._stack = contextlib.ExitStack()
        self.bar = None
        if enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, TimeElapsedColumn

            from .._progress import progress_bar

            self.bar = self._stack.enter_context(progress_bar(
                "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), transient=False))
            self.fits = self.bar.add_task("cross-validation fits", total=fits)
            self.resamples = self.bar.add_task("bootstrap resamples", total=resamples)

    def fit(self, n: int = 1) -> None:
        if self.bar is not None:
            self.bar.advance(self.fits, n)

    def resample(self, n: int) -> None:
        if self.bar is not None:
            self.bar.advance(self.resamples, n)

    def close(self) -> None:
        self._stack.close()



def _cross_validate(data: TaskData, model: str, names: list[str], *, folds, repeats, seed, n_jobs,
                    fit_kw, progress: _Progress, fallback: bool = False):
    """Out-of-fold predictions ``{pipeline: (R, n[, K])}``, fold ids ``(R, n)`` and the
    fold's binary decision thresholds ``{pipeline: (R, n)}`` (NaN for other kinds)."""
    n = len(data.y)
    k = len(data.classes) if data.kind == "multiclass" else 0
    preds = {p: np.full((repeats, n, k) if k else (repeats, n), np.nan) for p in names}
    thresholds = {p: np.full((repeats, n), np.nan) for p in names}
    fold_of = np.full((repeats, n), -1, dtype=np.int64)
    x = {p: data.features[p].to_numpy(np.float64) for p in names}
    cols = {p: list(data.features[p].columns) for p in names}
    split = repeated_group_kfold(data.groups, data.y, folds=folds, repeats=repeats,
                                 stratify=data.kind != "regression", seed=seed, fallback=fallback,
                                 task=data.task)
    for r, f, tr, te in split:
        fold_of[r, te] = f
        for p in names:
            fm = fit_model(model, data.kind, x[p][tr], data.y[tr], data.groups[tr], cols[p],
                           seed=seed + 1000 * r + f, n_jobs=n_jobs, **fit_kw)
            preds[p][r, te] = fm.predict(x[p][te])
            thresholds[p][r, te] = fm.threshold
            progress.fit()
    return preds, fold_of, thresholds


def _metric_rows(task, model, methods, names, data, boot, mnames, n, plan: ComparisonPlan,
                 level: float) -> list[dict]:
    rows = []
    m = len(mnames)
    primary = plan.primary(task)
    base = {"task": task, "kind": "metric", "model": model, "n": n, "n_patients": data.n_patients}
    for i, p in enumerate(names):
        for j, metric in enumerate(mnames):
            k = i * m + j
            for ci_method, ci in (("bca", boot.bca), ("percentile", boot.percentile)):
                rows.append({**base, "pipeline": p, "method": methods[p], "metric": metric,
                             "estimate": boot.estimate[k], "ci_low": ci[k, 0], "ci_high": ci[k, 1],
                             "ci_method": ci_method, "primary": metric == primary})
    offset = len(names) * m
    pvals = bootstrap_p_value(boot.estimate[offset:], boot.distribution[offset:])
    delong_primary = primary in ("auc",)  # DeLong carries the confirmatory AUC test
    for i, p in enumerate(names[1:]):
        for j, metric in enumerate(mnames):
            k = offset + i * m + j
            is_primary = metric == primary
            rows.append({**base, "kind": "comparison", "pipeline": p, "method": methods[p],
                         "metric": metric, "estimate": boot.estimate[(i + 1) * m + j],
                         "reference": names[0], "difference": boot.estimate[k],
                         "ci_low": boot.percentile[k, 0], "ci_high": boot.percentile[k, 1],
                         "ci_method": "paired-bootstrap-percentile", "p": pvals[i * m + j],
                         "primary": is_primary,
                         "family": "confirmatory" if is_primary and not delong_primary else "exploratory"})
    if plan.best is not None and not delong_primary:
        b = names.index(plan.best)
        j = mnames.index(primary)
        for i, p in enumerate(names):
            if i in (0, b):
                continue
            # p minus best on the same resamples (both metrics were computed on each resample)
            est = boot.estimate[i * m + j] - boot.estimate[b * m + j]
            dist = boot.distribution[i * m + j] - boot.distribution[b * m + j]
            lo, hi = np.nanquantile(dist, [(1 - level) / 2, (1 + level) / 2])
            rows.append({**base, "kind": "comparison", "pipeline": p, "method": methods[p],
                         "metric": primary, "estimate": boot.estimate[i * m + j], "reference": plan.best,
                         "difference": est, "ci_low": lo, "ci_high": hi,
                         "ci_method": "paired-bootstrap-percentile",
                         "p": float(bootstrap_p_value(np.array([est]), dist[None])[0]),
                         "primary": True, "family": "confirmatory"})
    return rows


def _delong_rows(task, model, methods, names, data, mean_pred, n, plan: ComparisonPlan,
                 confidence_level: float) -> list[dict]:
    """DeLong comparisons of AUCs: paired, or clustered by patient when patients repeat."""
    rows = []
    if data.kind != "binary" or len(names) < 2:
        return rows
    clustered = bool(pd.Series(data.groups).duplicated().any())
    y = data.y.astype(int)
    is_primary = plan.primary(task) == "auc"
    pairs = [(p, names[0]) for p in names[1:]]
    if plan.best is not None:
        pairs += [(p, plan.best) for p in names[1:] if p != plan.best]
    for p, ref in pairs:
        if ref != names[0] and not is_primary:
            continue
        if clustered:
            r = clustered_delong_test(y, mean_pred[ref], mean_pred[p], data.groups, confidence_level)
        else:
            r = delong_test(y, mean_pred[ref], mean_pred[p], confidence_level)
        rows.append({"task": task, "kind": "comparison", "pipeline": p, "model": model,
                     "method": methods[p], "metric": "auc", "estimate": r.auc2, "reference": ref,
                     "difference": r.difference, "ci_low": r.ci_low, "ci_high": r.ci_high,
                     "ci_method": "clustered-delong" if clustered else "delong", "p": r.p, "n": n,
                     "n_patients": data.n_patients, "primary": is_primary,
                     "family": "confirmatory" if is_primary else "exploratory"})
    return rows


def _prediction_frame(task, model, data, preds, fold_of, thresholds) -> pd.DataFrame:
    frames = []
    for p, arr in preds.items():
        for r in range(arr.shape[0]):
            df = data.rows[["row_id", "patient_id", "exam_id"]].copy()
            df.insert(0, "fold", fold_of[r])
            df.insert(0, "repeat", r)
            df.insert(0, "model", model)
            df.insert(0, "pipeline", p)
            df.insert(0, "task", task)
            df["y_true"] = data.y
            if arr.ndim == 3:
                df["y_pred"] = arr[r].argmax(axis=1).astype(np.float64)
                for c, name in enumerate(data.classes):
                    df[f"prob_{name}"] = arr[r][:, c]
            else:
                df["y_pred"] = arr[r]
            if data.kind == "binary":
                df["threshold"] = thresholds[p][r]
            frames.append(df)
    return pd.concat(frames, ignore_index=True)


def _adjust(results: pd.DataFrame) -> pd.DataFrame:
    """Holm within the confirmatory family; BH within each family."""
    from statsmodels.stats.multitest import multipletests

    results = results.copy()
    results["p_holm"] = np.nan
    results["p_bh"] = np.nan
    for family in ("confirmatory", "exploratory"):
        mask = (results["kind"] == "comparison") & (results["family"] == family) & results["p"].notna()
        if not mask.any():
            continue
        p = results.loc[mask, "p"].to_numpy(np.float64)
        results.loc[mask, "p_bh"] = multipletests(p, method="fdr_bh")[1]
        if family == "confirmatory":
            results.loc[mask, "p_holm"] = multipletests(p, method="holm")[1]
    return results


def _check_folds(data: TaskData, folds: int, fallback: bool) -> None:
    """Raise TaskSkipped when stratified grouped folds cannot be built (and no fallback)."""
    if data.kind == "regression" or fallback:
        return
    counts = class_patient_counts(data.groups, data.y)
    low = {data.classes[int(c)]: n for c, n in counts.items() if n < folds}
    if low:
        shown = ", ".join(f"{data.classes[int(c)]}: {n}" for c, n in counts.items())
        raise TaskSkipped(
            f"task {data.task!r}: stratified {folds}-fold grouped CV needs at least {folds} patients per "
            f"class; patients per class: {shown}; lower --folds, raise --min-events to skip the task "
            "on purpose, or pass --unstratified-fallback"
        )


def _check_foreign(pipes, cohort, allow_foreign: bool) -> dict[str, dict[str, str]]:
    """Pipelines whose features.json records another cohort's fingerprint."""
    try:
        from ..data import Cohort, open_cohort
    except ImportError:  # pragma: no cover - data is a dependency of stats
        return {}
    if isinstance(cohort, (str, os.PathLike)):
        cohort = open_cohort(cohort)
    if not isinstance(cohort, Cohort):
        return {}
    here = cohort.fingerprint
    foreign = {}
    for p in pipes:
        if p.cohort_fingerprint is not None and p.cohort_fingerprint != here:
            foreign[p.name] = {"features_cohort": p.cohort_fingerprint, "cohort": here}
    if foreign and not allow_foreign:
        name, fp = next(iter(foreign.items()))
        src = next(p.source for p in pipes if p.name == name)
        raise InputError(
            f"{Path(src) / 'features.json'} records cohort fingerprint {fp['features_cohort']} but "
            f"{cohort.path} has {here}: the features were computed from another cohort; pass the "
            "matching --cohort, recompute the features, or add --allow-foreign to proceed on purpose"
        )
    for name in foreign:
        logger.warning("pipeline %s was computed from another cohort (--allow-foreign)", name)
    return foreign


# Over 80 lines only through its docstring (every option of the public entry point); the
# body is the short sequence of named steps below.
def analyze(
    features: FeatureSource,
    cohort: Any,
    *,
    tasks: str | Sequence[str] = "all",
    models: str | Sequence[str] = "all",
    compare: Any = (),
    out: str | os.PathLike | None = None,
    folds: int = 5,
    repeats: int = 2,
    bootstrap: int = 2000,
    seed: int = 0,
    n_jobs: int = 1,
    progress: bool = True,
    covariates: Sequence[str] = (),
    exclude_unreliable_sf: bool = True,
    change_margin: float = CHANGE_MARGIN,
    change_classes: int = 2,
    sf_model: str = "ols",
    min_events: int = 10,
    confidence_level: float = 0.95,
    primary: str | Sequence[str] | dict[str, str] | None = None,
    best: str | None = None,
    alpha: float = 0.05,
    unstratified_fallback: bool = False,
    allow_foreign: bool = False,
    overwrite: bool = False,
) -> AnalysisResult:
    """Predict S/F, S/F change and readmission from exam features, with honest statistics.

    The options after ``compare``/``out`` are those of
    :class:`lusfeat.stats.AnalysisConfig` (same names, defaults and checks);
    ``analyze(features, cohort, **config.analyze_kwargs())`` runs with a config.

    Parameters
    ----------
    features : path, DataFrame or dict of name -> path/DataFrame
        Reference pipeline: a features folder (read with
        :func:`lusfeat.features.read_features`, named by its ``features.json``
        ``name`` or folder name), a Parquet file of the exam-level table (named
        by its stem) or an in-memory DataFrame (named ``features`` unless given
        in a dict). A dict's first entry is the reference.
    cohort : path, Cohort or DataFrame
        Cohort folder, opened cohort, or its clinical table.
    tasks : str or sequence of {"sf", "sf-change", "readmission", "all"}
    models : str or sequence of {"xgboost", "linear", "penalized", "all"}
        Model families (:mod:`lusfeat.stats._models`).
    compare : path, DataFrame, dict or sequence of them
        Pipelines compared with the reference on identical rows, folds and
        bootstrap resamples.
    out : path, optional
        Output folder, written atomically (see :mod:`lusfeat.stats._result`).
    folds, repeats : int
        Patient-grouped K-fold CV, repeated with seeds ``seed + r``.
    bootstrap : int
        Patient-level bootstrap resamples of the out-of-fold predictions.
    seed : int
        Seed of folds, models and bootstrap.
    n_jobs : int
        XGBoost threads.
    progress : bool
        Show a progress bar.
    covariates : sequence of str
        Clinical columns added to every pipeline's features (e.g. ``("age", "sex")``).
    exclude_unreliable_sf : bool
        Exclude exams with SpO2 > 97% on supplemental oxygen from the S/F tasks.
    change_margin : float
        Relative S/F change separating improved/worsened from stable (default 10%).
    change_classes : {2, 3}
        sf-change as worsened vs improved, or worsened/stable/improved.
    sf_model : {"ols", "mixedlm"}
        Linear model of the S/F task (``mixedlm``: random intercept per patient).
    min_events : int
        Minimum rows per class (patients for S/F) for a task to run.
    confidence_level : float
        Level of every CI.
    primary : str, sequence of "TASK=METRIC" or dict, optional
        Overrides of the primary metrics (:data:`lusfeat.stats.PRIMARY_METRICS`).
    best : str, optional
        A compared pipeline designated as best *before* the analysis (e.g. by
        segmentation Dice); the other pipelines are also compared with it on
        the primary metric, in the confirmatory family.
    alpha : float
        Family-wise error rate of the confirmatory family (recorded in the plan).
    unstratified_fallback : bool
        When stratified grouped folds cannot be built for a binary task (a
        class has fewer than ``folds`` patients), use unstratified grouped folds
        with a logged warning instead of skipping the task.
    allow_foreign : bool
        Proceed when a feature folder's ``features.json`` records another
        cohort's fingerprint (recorded in ``analysis.json`` as ``foreign``).
    overwrite : bool
        Replace an existing ``out`` folder.

    Returns
    -------
    AnalysisResult
        With ``plan`` (the comparison plan, also ``plan.json``).

    Raises
    ------
    InputError
        For invalid options, unreadable tables, a reference feature table
        whose exams do not match the cohort, features of another cohort
        (without ``allow_foreign``), or when no requested task could be
        computed (the message lists why). A compared table that does not
        match, and a task without enough rows or events, are reported in
        ``skipped`` while the rest runs.

    Examples
    --------
    >>> res = analyze({"truth": truth_df, "t50": t50_df}, "cohort",  # doctest: +SKIP
    ...               folds=3, repeats=1, bootstrap=500, progress=False)
    >>> print(res.plan.describe())  # doctest: +SKIP
    >>> res.results.query("family == 'confirmatory'")  # doctest: +SKIP
    """
    config = AnalysisConfig(
        tasks=tasks, models=models, folds=folds, repeats=repeats, bootstrap=bootstrap, seed=seed, n_jobs=n_jobs,
        covariates=covariates, exclude_unreliable_sf=exclude_unreliable_sf, change_margin=change_margin,
        change_classes=change_classes, sf_model=sf_model, min_events=min_events,
        confidence_level=confidence_level, primary=primary, best=best, alpha=alpha,
        unstratified_fallback=unstratified_fallback)
    task_list, model_list, primary_map = config.tasks, config.models, config.primary
    pipes = load_pipelines(features, compare)
    clinical, cohort_meta = load_clinical(cohort)
    foreign = _check_foreign(pipes, cohort, allow_foreign)

    skipped: dict[str, str] = {}
    usable = _usable_pipelines(pipes, clinical, skipped)
    names = [p.name for p in usable]
    if best is not None and best not in names[1:]:
        raise InputError(f"--best {best!r} is not one of the compared pipelines {names[1:]}")
    plan = make_plan(names, task_list, model_list, change_classes=change_classes,
                     primary={t: m for t, m in primary_map.items() if t in task_list}, best=best, alpha=alpha)
    logger.debug("%s", plan.describe())
    datas = _build_tasks(task_list, clinical, usable, skipped, covariates=covariates,
                         exclude_unreliable_sf=exclude_unreliable_sf, change_margin=change_margin,
                         change_classes=change_classes, min_events=min_events, folds=folds,
                         unstratified_fallback=unstratified_fallback)
    excluded = {task: data.excluded for task, data in datas.items()}

    run = _Run(names=names, plan=plan, folds=folds, repeats=repeats, bootstrap=bootstrap, seed=seed,
               n_jobs=n_jobs, fit_kw={"sf_model": sf_model}, confidence_level=confidence_level,
               fallback=unstratified_fallback)
    with collected_fit_warnings("analysis"):
        rows, pred_frames, summaries = _fit_and_compare(run, datas, model_list, skipped, progress)

    if not rows:
        reasons = "; ".join(f"{k}: {v}" for k, v in skipped.items()) or "no task produced results"
        raise InputError(f"nothing could be computed for --task {','.join(task_list)}: {reasons}")
    results = _adjust(pd.DataFrame(rows, columns=list(RESULT_COLUMNS)))
    predictions = pd.concat(pred_frames, ignore_index=True)
    meta = _meta(usable, cohort, cohort_meta, clinical, task_list, model_list, locals_opts={
        "folds": folds, "repeats": repeats, "bootstrap": bootstrap, "seed": seed, "n_jobs": n_jobs,
        "covariates": list(covariates), "exclude_unreliable_sf": exclude_unreliable_sf,
        "change_margin": change_margin, "change_classes": change_classes, "sf_model": sf_model,
        "min_events": min_events, "confidence_level": confidence_level, "primary": primary_map,
        "best": best, "alpha": alpha, "unstratified_fallback": unstratified_fallback,
        "allow_foreign": allow_foreign})
    meta["tasks"] = {t: {"kind": d.kind, "classes": list(d.classes), "n_rows": len(d.y),
                         "n_patients": d.n_patients, "excluded": d.excluded} for t, d in datas.items()}
    meta["foreign"] = foreign
    result = AnalysisResult(results=results, predictions=predictions, models=summaries,
                            skipped=skipped, excluded=excluded, meta=meta, plan=plan)
    if out is not None:
        result.write(out, overwrite=overwrite)
        logger.info("analysis written to %s", out)
    return result


def _usable_pipelines(pipes, clinical, skipped: dict[str, str]) -> list:
    """Pipelines whose exams match the clinical table; a compared one that does not is skipped."""
    usable = []
    for i, p in enumerate(pipes):
        try:
            note = match_pipeline(p, clinical)
        except InputError as exc:
            if i == 0:
                raise
            skipped[f"pipeline {p.name}"] = str(exc)
            logger.warning("%s", exc)
            continue
        if note:
            logger.warning("%s; only exams present in every pipeline are analysed", note)
        usable.append(p)
    return usable


def _build_tasks(task_list, clinical, usable, skipped: dict[str, str], *, unstratified_fallback: bool,
                 folds: int, **task_kw) -> dict[str, TaskData]:
    """The task tables that can run; the others are recorded in ``skipped``."""
    datas: dict[str, TaskData] = {}
    for task in task_list:
        try:
            data = build_task(task, clinical, usable, folds=folds, **task_kw)
            _check_folds(data, folds, unstratified_fallback)
            datas[task] = data
        except TaskSkipped as exc:
            skipped[task] = str(exc)
            logger.warning("%s", exc)
    return datas


@dataclass(frozen=True)
class _Run:
    """The options every (task, model) combination of one analysis shares."""

    names: list[str]
    plan: ComparisonPlan
    folds: int
    repeats: int
    bootstrap: int
    seed: int
    n_jobs: int
    fit_kw: dict[str, Any]
    confidence_level: float
    fallback: bool


def _fit_and_compare(run: _Run, datas: dict[str, TaskData], model_list, skipped: dict[str, str],
                     progress: bool):
    """Cross-validate, fit on all rows, bootstrap and compare every (task, model)."""
    n_combo = len(datas) * len(model_list)
    bar = _Progress(progress, n_combo * run.folds * run.repeats * len(run.names), n_combo * run.bootstrap)
    rows: list[dict] = []
    pred_frames: list[pd.DataFrame] = []
    summaries = {}
    try:
        for task, data in datas.items():
            for model in model_list:
                try:
                    preds, fold_of, thresholds = _cross_validate(
                        data, model, run.names, folds=run.folds, repeats=run.repeats, seed=run.seed,
                        n_jobs=run.n_jobs, fit_kw=run.fit_kw, progress=bar, fallback=run.fallback)
                    methods = _fit_all_rows(run, task, data, model, summaries)
                except (LusfeatError, np.linalg.LinAlgError, ValueError) as exc:
                    skipped[f"{task}/{model}"] = f"{type(exc).__name__}: {exc}"
                    logger.warning("task %s, model %s failed: %s", task, model, exc)
                    continue
                rows += _compare(run, task, data, model, methods, preds, thresholds, bar)
                pred_frames.append(_prediction_frame(task, model, data, preds, fold_of, thresholds))
    finally:
        bar.close()
    return rows, pred_frames, summaries


def _fit_all_rows(run: _Run, task: str, data: TaskData, model: str, summaries: dict) -> dict[str, str]:
    """Fit each pipeline's model on all rows; store its summary; return the method per pipeline."""
    methods = {}
    for p in run.names:
        full = fit_model(model, data.kind, data.features[p].to_numpy(np.float64),
                         data.y, data.groups, list(data.features[p].columns),
                         seed=run.seed, n_jobs=run.n_jobs, **run.fit_kw)
        methods[p] = full.method
        summaries[(task, p, model)] = full.summary(
            f"{task}: {model} on pipeline {p} (all {len(data.y)} rows)")
    return methods


def _compare(run: _Run, task, data, model, methods, preds, thresholds, bar: _Progress) -> list[dict]:
    """Metric and comparison rows of one (task, model): paired bootstrap, then DeLong."""
    names = run.names
    mean_pred = {p: np.nanmean(a, axis=0) for p, a in preds.items()}
    mean_thr = {p: np.nanmean(a, axis=0) if data.kind == "binary" else None
                for p, a in thresholds.items()}
    stat = _statistic(data.kind, data.y, [mean_pred[p] for p in names], [mean_thr[p] for p in names])
    boot = cluster_bootstrap(stat, data.groups, n_resamples=run.bootstrap,
                             confidence_level=run.confidence_level, seed=run.seed, on_batch=bar.resample)
    mnames = metric_names(data.kind)
    return (_metric_rows(task, model, methods, names, data, boot, mnames, len(data.y), run.plan,
                         run.confidence_level)
            + _delong_rows(task, model, methods, names, data, mean_pred, len(data.y), run.plan,
                           run.confidence_level))


def _statistic(kind: str, y: np.ndarray, preds: list[np.ndarray], thresholds: list[np.ndarray | None]):
    """Vectorised statistic: metrics of every pipeline, then differences to the first."""

    def stat(w: np.ndarray) -> np.ndarray:
        vals = [evaluate(kind, y, p, w, threshold=0.5 if t is None else t)
                for p, t in zip(preds, thresholds, strict=True)]
        diffs = [v - vals[0] for v in vals[1:]]
        return np.concatenate(vals + diffs, axis=0)

    return stat


def _meta(pipes, cohort, cohort_meta, clinical, tasks, models, locals_opts) -> dict[str, Any]:
    import scipy
    import sklearn
    import statsmodels
    import xgboost

    from .._io import fingerprint

    src = cohort if isinstance(cohort, (str, os.PathLike)) else getattr(cohort, "path", "<DataFrame>")
    return {
        "command": "analyze",
        "lusfeat_version": __version__,
        "versions": {"python": platform.python_version(), "numpy": np.__version__,
                     "pandas": pd.__version__, "scipy": scipy.__version__,
                     "scikit-learn": sklearn.__version__, "statsmodels": statsmodels.__version__,
                     "xgboost": xgboost.__version__},
        "options": {"tasks": list(tasks), "models": list(models), **locals_opts},
        "reference": pipes[0].name if pipes else None,
        "pipelines": {p.name: {"source": p.source, "fingerprint": p.fingerprint,
                               "n_exams": len(p.table), "n_features": len(p.feature_columns),
                               "cohort_fingerprint": p.cohort_fingerprint}
                      for p in pipes},
        "cohort": {"source": str(src), "fingerprint": fingerprint(
            clinical.astype(str).to_numpy().tolist()), "simulated": "simulation" in cohort_meta},
    }
