"""Power by simulation: how many patients does a feature-pipeline comparison need?

:func:`power` answers it before anyone annotates. It simulates a pool of
patients with :func:`lusfeat.data.simulate_cohort` (small frames: 64 px, one
frame per clip, 6 zones by default), extracts exam features with
:func:`lusfeat.features.extract` from the true masks (``reference``) and from
degraded masks (``degraded``, default ``labels:10``: the fused annotator labels
at a low threshold), then for every cohort size ``n`` and replicate draws ``n``
patients, runs the planned comparison of :func:`lusfeat.stats.analyze` on them
(same tasks, patient-grouped folds, model fits, primary metric and test:
paired patient bootstrap for MAE-like metrics, DeLong or clustered DeLong for
AUC, Holm over the confirmatory family) and counts a replicate significant when
its Holm-adjusted p-value is below ``alpha``. Power is that share (two-sided),
with a Wilson score interval over the replicates; ``power_worse`` counts only the
significant replicates where the degraded pipeline is the worse one (the
direction the study expects).

Fast paths
----------
* **Reuse across replicates.** Patients are simulated independently and a
  patient's exam features depend only on that patient's frames, so simulation
  and feature extraction are done once for a pool of ``pool`` patients; each
  replicate is a fresh random subset of ``n`` pool patients (drawn without
  replacement). Two replicates of size ``n`` then share about ``n / pool`` of
  their patients, and the pool is one finite sample of the population: the
  Wilson interval is the Monte Carlo error *given the pool*. The default pool
  (four times the largest size) keeps the overlap at 25% or less; raise
  ``pool`` for a tighter link to the population.
* **Parallel over cores.** The pool is simulated in chunks of
  :data:`CHUNK_PATIENTS` patients and the chunks and the replicates run in
  ``n_jobs`` worker processes (one thread each); results do not depend on
  ``n_jobs``: every chunk and replicate has its own seed from
  ``numpy.random.SeedSequence(seed)``.
* **Lean replicates.** A replicate runs the confirmatory test only: one CV
  repeat, no full-data summaries and no BCa jackknife.

Output folder (written atomically)::

    OUT/
      power.parquet, power.csv   one row per (task, model, size): replicates,
                                 significant, power, ci_low, ci_high,
                                 significant_worse, power_worse, mean
                                 difference, median p
      replicates.parquet         one row per (task, model, size, replicate)
      power.png                  power curve with its CI band
      power.json                 options, plan, pool, seeds, seconds per stage
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._errors import InputError
from .._summary import Summary

__all__ = ["PowerPool", "PowerResult", "power", "simulate_pool", "POWER_COLUMNS"]

logger = logging.getLogger(__name__)

#: Patients per simulated chunk of the pool.
CHUNK_PATIENTS = 40

#: Columns of the power table.
POWER_COLUMNS = ("task", "model", "metric", "size", "replicates", "run", "significant", "power",
                 "ci_low", "ci_high", "significant_worse", "power_worse", "mean_difference", "median_p")

#: Metrics where lower is better (the degraded pipeline is worse when its value is higher).
LOWER_IS_BETTER = frozenset({"mae", "rmse", "brier"})


@dataclass
class PowerPool:
    """Simulated patients with exam features of two pipelines.

    Attributes
    ----------
    clinical : pandas.DataFrame
        Clinical table (one row per exam) of every pool patient.
    features : dict of str -> pandas.DataFrame
        Exam-level feature tables, reference pipeline first.
    meta : dict
        How the pool was made (simulation options, seeds, seconds).
    """

    clinical: pd.DataFrame
    features: dict[str, pd.DataFrame]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def patients(self) -> np.ndarray:
        """Patient IDs of the pool, in order."""
        return pd.unique(self.clinical["patient_id"])


@dataclass
class PowerResult:
    """What :func:`power` produced.

    Attributes
    ----------
    table : pandas.DataFrame
        Columns :data:`POWER_COLUMNS`.
    replicates : pandas.DataFrame
        One row per (task, model, size, replicate): p, p_holm, difference,
        significant, or the reason it could not run.
    meta : dict
        Options, plan, pool and timings.
    out : Path or None
    """

    table: pd.DataFrame
    replicates: pd.DataFrame
    meta: dict[str, Any]
    out: Path | None = None

    def summary(self) -> PowerSummary:
        """The power table (``tables["power"]``) with the comparison in the title; ``str()`` is text."""
        title = (f"Power by simulation: {self.meta['reference']} vs {self.meta['degraded']}, "
                 f"alpha {self.meta['alpha']:g} (Holm over the confirmatory family), "
                 f"pool of {self.meta['pool']['patients']} simulated patients")
        return PowerSummary(title=title, info=[("reference", self.meta["reference"]),
                                               ("degraded", self.meta["degraded"]),
                                               ("alpha", self.meta["alpha"])],
                            tables={"power": self.table})


@dataclass
class PowerSummary(Summary):
    """The summary of a power run: one line per (task, model, size)."""

    def as_text(self) -> str:
        """Title, then per task and model the power at each size with its CI."""
        lines = [self.title]
        for (task, model, metric), g in self.tables["power"].groupby(["task", "model", "metric"], sort=False):
            lines.append(f"  {task} / {model}, primary metric {metric}:")
            for r in g.itertuples():
                lines.append(f"    n = {r.size:>4}: power {r.power:.2f} [{r.ci_low:.2f}, {r.ci_high:.2f}] "
                             f"({r.significant}/{r.run} significant, {r.significant_worse} with the degraded "
                             f"pipeline worse; mean difference {r.mean_difference:+.4g})")
        return "\n".join(lines)


def _wilson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    from scipy import stats

    if n == 0:
        return float("nan"), float("nan")
    z = stats.norm.ppf(0.5 + level / 2)
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def _int_seed(ss: np.random.SeedSequence) -> int:
    return int(ss.generate_state(1, dtype=np.uint32)[0] & 0x7FFFFFFF)


def _simulate_chunk(args: tuple) -> tuple[pd.DataFrame, dict[str, pd.DataFrame], float]:
    """Simulate one chunk of the pool and extract its exam features (runs in a worker)."""
    (chunk, patients, seed, sim_kw, reference, degraded, workdir) = args
    from threadpoolctl import threadpool_limits

    from ..data import open_cohort, simulate_cohort
    from ..features import extract, read_features

    t0 = time.perf_counter()
    with threadpool_limits(1):
        root = Path(workdir) / f"chunk{chunk:03d}"
        cohort = simulate_cohort(root / "cohort", patients=patients, seed=seed, overwrite=True, **sim_kw)
        feats = {}
        for name, masks in ((reference, reference), (degraded, degraded)):
            folder = root / name.replace(":", "-")
            extract(cohort, masks, folder, backend="cpu", progress=False, overwrite=True)
            feats[name] = read_features(folder, level="exam")
        clinical = open_cohort(cohort).clinical.copy()
    prefix = f"C{chunk:03d}-"
    for c in ("patient_id", "exam_id", "discharge_exam_id"):
        clinical[c] = clinical[c].map(lambda v: None if v is None or pd.isna(v) else prefix + str(v))
    for name, t in feats.items():
        t = t.copy()
        t["patient_id"] = prefix + t["patient_id"].astype(str)
        t["exam_id"] = prefix + t["exam_id"].astype(str)
        feats[name] = t
    return clinical, feats, time.perf_counter() - t0


def simulate_pool(
    patients: int,
    *,
    reference: str = "truth",
    degraded: str = "labels:10",
    seed: int = 0,
    n_jobs: int = 1,
    exams: tuple[int, int] = (2, 3),
    zones: int = 6,
    frames: int = 1,
    size: int = 64,
    annotators: int = 3,
    probe: str = "mixed",
    workdir: str | os.PathLike | None = None,
    progress: bool = False,
) -> PowerPool:
    """Simulate a pool of patients and extract the exam features of two mask pipelines.

    Parameters
    ----------
    patients : int
        Pool size (patients).
    reference, degraded : str
        Mask specs of :func:`lusfeat.features.extract` (``"truth"``, ``"labels:T"``).
    seed : int
        Seed of the pool; chunk ``c`` (of :data:`CHUNK_PATIENTS` patients) is
        simulated with a seed spawned from it.
    n_jobs : int
        Worker processes over the chunks.
    exams, zones, frames, size, annotators, probe
        Options of :func:`lusfeat.data.simulate_cohort` (``frames`` per clip,
        ``size`` pixels).
    workdir : path, optional
        Scratch folder for the chunk cohorts (default: a temporary folder,
        removed afterwards).
    progress : bool
        Show a progress bar over chunks.

    Returns
    -------
    PowerPool
    """
    from rich.progress import Progress

    from .._progress import progress_bar

    # Chunks of about CHUNK_PATIENTS patients (a finer progress bar); the chunking, and so every
    # simulated byte, depends on ``patients`` and ``seed`` only, not on ``n_jobs``.
    n_chunks = max(1, -(-int(patients) // CHUNK_PATIENTS))
    per = np.diff(np.linspace(0, patients, n_chunks + 1).round().astype(int))
    seeds = [_int_seed(s) for s in np.random.SeedSequence([seed, 1]).spawn(n_chunks)]
    sim_kw = {"exams": tuple(exams), "zones": zones, "frames": frames, "size": size,
              "annotators": annotators, "probe": probe}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=workdir, prefix=".lusfeat-power-") as tmp:
        jobs = [(c, int(per[c]), seeds[c], sim_kw, reference, degraded, tmp) for c in range(n_chunks)]
        parts = []
        with progress_bar(*Progress.get_default_columns(), enabled=progress) as bar:
            task = bar.add_task(f"simulating {patients} patients + features", total=n_chunks)
            if n_jobs > 1:
                with ProcessPoolExecutor(min(int(n_jobs), n_chunks), mp_context=_context()) as ex:
                    for part in ex.map(_simulate_chunk, jobs):
                        parts.append(part)
                        bar.advance(task)
            else:
                for job in jobs:
                    parts.append(_simulate_chunk(job))
                    bar.advance(task)
    clinical = pd.concat([p[0] for p in parts], ignore_index=True)
    feats = {name: pd.concat([p[1][name] for p in parts], ignore_index=True) for name in (reference, degraded)}
    meta = {"patients": int(patients), "chunks": n_chunks, "chunk_seeds": seeds, "simulation": sim_kw,
            "reference": reference, "degraded": degraded, "seconds": round(time.perf_counter() - t0, 2),
            "worker_seconds": [round(p[2], 2) for p in parts]}
    return PowerPool(clinical=clinical, features=feats, meta=meta)


def _context():
    import multiprocessing

    # forkserver/spawn: no inherited OpenMP or numba state in the workers
    return multiprocessing.get_context("forkserver" if os.name == "posix" else "spawn")


# --- one replicate -------------------------------------------------------------------------

_POOL: PowerPool | None = None


def _init_worker(pool: PowerPool) -> None:
    global _POOL
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    _POOL = pool


def _replicate(args: tuple) -> list[dict[str, Any]]:
    """Draw one cohort from the pool and run the planned confirmatory comparison on it."""
    from ._inputs import Pipeline

    size, rep, rseed, opts = args
    pool = _POOL
    rng = np.random.default_rng(rseed)
    chosen = set(rng.choice(pool.patients, size=size, replace=False))
    clin = pool.clinical[pool.clinical["patient_id"].isin(chosen)].reset_index(drop=True)
    pipes = [Pipeline(k, v[v["patient_id"].isin(chosen)].reset_index(drop=True), "<power pool>", "")
             for k, v in pool.features.items()]
    return run_planned_comparison(pipes, clin, seed=int(rseed % (2**31)), size=size, replicate=rep, **opts)


def _holm(p: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values (as ``multipletests(p, method="holm")``)."""
    p = np.asarray(p, dtype=np.float64)
    m = p.size
    order = np.argsort(p, kind="stable")
    adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adj
    return out


def run_planned_comparison(
    pipes: Sequence[Any],
    clinical: pd.DataFrame,
    *,
    tasks: Sequence[str],
    models: Sequence[str],
    primary: dict[str, str],
    folds: int,
    bootstrap: int,
    min_events: int,
    alpha: float,
    seed: int,
    size: int = 0,
    replicate: int = 0,
) -> list[dict[str, Any]]:
    """The confirmatory tests of :func:`lusfeat.stats.analyze` on one cohort.

    Parameters
    ----------
    pipes : sequence of lusfeat.stats._inputs.Pipeline
        Cleaned exam-level tables, reference first (one compared pipeline).
    clinical : DataFrame
        Clinical table.
    tasks, models : sequence of str
    primary : dict of task -> metric
        Primary-metric overrides.
    folds, bootstrap, min_events : int
        As in :func:`lusfeat.stats.analyze` (one CV repeat).
    alpha : float
        Significance level after Holm over the tests that ran.
    seed : int
    size, replicate : int
        Recorded in the rows.

    Returns
    -------
    list of dict
        One row per (task, model): ``p``, ``p_holm``, ``difference``,
        ``significant``, or ``error`` when the task could not run.
    """
    from ._analyze import _Progress
    from ._plan import make_plan

    names = [p.name for p in pipes]
    plan = make_plan(names, tasks, models, primary=primary, alpha=alpha)
    rows: list[dict[str, Any]] = []
    quiet = _Progress(False, 0, 0)
    for task in tasks:
        metric = plan.primary(task)
        base = {"task": task, "metric": metric, "size": size, "replicate": replicate}
        rows += _task_comparison(task, metric, base, pipes, clinical, models, folds=folds, bootstrap=bootstrap,
                                 min_events=min_events, seed=seed, progress=quiet)
    _holm_adjust(rows, alpha)
    return rows


def _task_comparison(task: str, metric: str, base: dict[str, Any], pipes: Sequence[Any], clinical: pd.DataFrame,
                     models: Sequence[str], *, folds: int, bootstrap: int, min_events: int, seed: int,
                     progress: Any) -> list[dict[str, Any]]:
    """Rows of :func:`run_planned_comparison` for one task: one per model (``error`` when it cannot run)."""
    from .._errors import LusfeatError
    from ._analyze import _check_folds, _cross_validate
    from ._metrics import metric_names
    from ._tasks import TaskSkipped, build_task

    names = [p.name for p in pipes]
    try:
        data = build_task(task, clinical, pipes, min_events=min_events, folds=folds)
        _check_folds(data, folds, False)
    except (TaskSkipped, LusfeatError) as exc:
        return [{**base, "model": m, "error": str(exc)} for m in models]
    j = list(metric_names(data.kind)).index(metric)
    rows: list[dict[str, Any]] = []
    for model in models:
        try:
            preds, _, thr = _cross_validate(data, model, names, folds=folds, repeats=1, seed=seed,
                                            n_jobs=1, fit_kw={"sf_model": "ols"}, progress=progress)
        except (LusfeatError, np.linalg.LinAlgError, ValueError) as exc:
            rows.append({**base, "model": model, "error": f"{type(exc).__name__}: {exc}"})
            continue
        diff, p = _difference_test(data, metric, j, preds, thr, names, bootstrap=bootstrap, seed=seed)
        rows.append({**base, "model": model, "difference": diff, "p": p, "n_rows": len(data.y),
                     "n_patients": data.n_patients})
    return rows


def _difference_test(data: Any, metric: str, j: int, preds: dict, thr: dict, names: list[str], *,
                     bootstrap: int, seed: int) -> tuple[float, float]:
    """Difference (compared minus reference) of the primary metric and its two-sided p-value.

    AUCs of binary tasks are compared by DeLong's test (Obuchowski's clustered
    version when patients have several rows); other metrics by a patient
    bootstrap of the difference.
    """
    from ._bootstrap import bootstrap_p_value, cluster_bootstrap
    from ._delong import clustered_delong_test, delong_test
    from ._metrics import evaluate

    p0, p1 = preds[names[0]][0], preds[names[1]][0]
    if metric == "auc" and data.kind == "binary":
        y = data.y.astype(int)
        clustered = bool(pd.Series(data.groups).duplicated().any())
        r = (clustered_delong_test(y, p0, p1, data.groups) if clustered else delong_test(y, p0, p1))
        return r.difference, r.p
    t0 = thr[names[0]][0] if data.kind == "binary" else 0.5
    t1 = thr[names[1]][0] if data.kind == "binary" else 0.5

    def stat(w, p0=p0, p1=p1, t0=t0, t1=t1, kind=data.kind, y=data.y, j=j):
        return (evaluate(kind, y, p1, w, threshold=t1)[j]
                - evaluate(kind, y, p0, w, threshold=t0)[j])[None]

    boot = cluster_bootstrap(stat, data.groups, n_resamples=bootstrap, seed=seed, bca=False)
    return float(boot.estimate[0]), float(bootstrap_p_value(boot.estimate, boot.distribution)[0])


def _holm_adjust(rows: list[dict[str, Any]], alpha: float) -> None:
    """Add ``p_holm`` and ``significant`` to the rows whose test gave a finite p-value (in place)."""
    ok = [r for r in rows if "p" in r and np.isfinite(r["p"])]
    if ok:
        adj = _holm(np.array([r["p"] for r in ok]))
        for r, q in zip(ok, adj, strict=True):
            r["p_holm"] = float(q)
            r["significant"] = bool(q < alpha)


# --- the study -----------------------------------------------------------------------------

# Over 80 lines only through its docstring (every option of the public entry point); the
# body is the short sequence of named steps below.
def power(
    out: str | os.PathLike | None = None,
    *,
    sizes: Sequence[int] = (40, 80, 160, 320),
    replicates: int = 100,
    reference: str = "truth",
    degraded: str = "labels:10",
    tasks: str | Sequence[str] = ("sf",),
    models: str | Sequence[str] = ("linear",),
    primary: str | Sequence[str] | dict[str, str] | None = None,
    pool: int | PowerPool | None = None,
    folds: int = 5,
    bootstrap: int = 500,
    min_events: int = 10,
    alpha: float = 0.05,
    seed: int = 0,
    n_jobs: int = 1,
    exams: tuple[int, int] = (2, 3),
    zones: int = 6,
    frames: int = 1,
    size: int = 64,
    annotators: int = 3,
    workdir: str | os.PathLike | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> PowerResult:
    """Power of the planned pipeline comparison at several cohort sizes, by simulation.

    Parameters
    ----------
    out : path, optional
        Output folder (module docstring), written atomically.
    sizes : sequence of int
        Cohort sizes (patients), each at least ``folds``.
    replicates : int
        Simulated studies per size.
    reference, degraded : str
        Mask specs of the two pipelines compared (``truth`` and ``labels:T``).
    tasks, models : str or sequence of str
        Tasks and model families of the planned analysis.
    primary : str, sequence of "TASK=METRIC" or dict, optional
        Primary-metric overrides (defaults :data:`lusfeat.stats.PRIMARY_METRICS`).
    pool : int or PowerPool, optional
        Simulated pool size in patients (default ``4 * max(sizes)``), or a pool
        made by :func:`simulate_pool` (or any clinical + feature tables).
    folds, bootstrap, min_events : int
        Patient-grouped CV folds, bootstrap resamples of the test, minimum events.
    alpha : float
        Significance level after Holm.
    seed : int
        Seed of the pool and of every replicate.
    n_jobs : int
        Worker processes.
    exams, zones, frames, size, annotators
        Simulator options (frames per clip; frame size in pixels).
    workdir : path, optional
        Scratch folder of the pool simulation.
    progress : bool
        Show progress bars.
    overwrite : bool
        Replace an existing ``out``.

    Returns
    -------
    PowerResult

    Raises
    ------
    InputError
        For invalid options (sizes below ``folds`` or above the pool, unknown
        tasks, models or metrics).

    Examples
    --------
    >>> res = power("power-study", sizes=(40, 80), replicates=20, n_jobs=2)  # doctest: +SKIP
    >>> print(res.summary())  # doctest: +SKIP
    """
    from .._config import AnalysisConfig
    from ._plan import make_plan

    t_start = time.perf_counter()
    analysis = AnalysisConfig(tasks=tasks, models=models, primary=primary, folds=folds, bootstrap=bootstrap,
                              min_events=min_events, alpha=alpha)
    task_list, model_list = analysis.tasks, analysis.models
    primary_map = {t: m for t, m in analysis.primary.items() if t in task_list}
    sizes = tuple(int(s) for s in (sizes if not isinstance(sizes, (int, np.integer)) else [sizes]))
    _check_power_options(sizes, replicates=replicates, folds=folds, n_jobs=n_jobs, reference=reference,
                         degraded=degraded)
    plan = make_plan([reference, degraded], task_list, model_list, primary=primary_map, alpha=alpha)
    if out is not None and Path(out).exists() and not overwrite and (
            not Path(out).is_dir() or any(Path(out).iterdir())):
        raise InputError(f"output {out} already exists; choose another path or pass --overwrite")
    the_pool = _pool_for(pool, sizes, reference=reference, degraded=degraded, seed=seed, n_jobs=n_jobs,
                         exams=exams, zones=zones, frames=frames, size=size, annotators=annotators,
                         workdir=workdir, progress=progress)
    t_pool = time.perf_counter()

    opts = {"tasks": task_list, "models": model_list, "primary": primary_map, "folds": folds,
            "bootstrap": bootstrap, "min_events": min_events, "alpha": alpha}
    jobs = _replicate_jobs(sizes, replicates, seed, opts)
    reps = _run_replicates(jobs, _validated_pool(the_pool), n_jobs, progress)
    table = _power_table(reps)
    t_end = time.perf_counter()
    _log_skipped(reps)
    meta = {"command": "power", "reference": reference, "degraded": degraded, "sizes": list(sizes),
            "replicates": replicates, "alpha": alpha, "seed": seed, "n_jobs": n_jobs,
            "options": {**opts, "tasks": list(task_list), "models": list(model_list)},
            "plan": plan.as_dict(),
            "pool": {**the_pool.meta, "patients": len(the_pool.patients),
                     "overlap_note": "replicates are subsets of one simulated pool; two replicates of size n "
                                     "share about n / pool of their patients"},
            "seconds": {"pool": round(t_pool - t_start, 2), "replicates": round(t_end - t_pool, 2),
                        "total": round(t_end - t_start, 2)}}
    result = PowerResult(table=table, replicates=reps, meta=meta)
    if out is not None:
        _write(result, Path(out), overwrite)
    return result


def _pool_for(pool: int | PowerPool | None, sizes: tuple[int, ...], **simulate: Any) -> PowerPool:
    """The pool replicates are drawn from: ``pool`` itself, or one simulated by :func:`simulate_pool`.

    Parameters
    ----------
    pool : int, PowerPool or None
        A pool, or the number of patients to simulate (default ``4 * max(sizes)``).
    sizes : tuple of int
        Cohort sizes of the replicates; the pool must hold the largest.
    **simulate
        Options of :func:`simulate_pool`.

    Raises
    ------
    InputError
        When the pool has fewer patients than the largest size.
    """
    if isinstance(pool, PowerPool):
        the_pool = pool
    else:
        n_pool = int(pool) if pool is not None else 4 * max(sizes)
        if n_pool < max(sizes):
            raise InputError(f"--pool ({n_pool}) must be at least the largest size ({max(sizes)})")
        the_pool = simulate_pool(n_pool, **simulate)
    n_avail = len(the_pool.patients)
    if max(sizes) > n_avail:
        raise InputError(f"the pool has {n_avail} patients, fewer than the largest size {max(sizes)}; "
                         "raise --pool")
    return the_pool


def _replicate_jobs(sizes: tuple[int, ...], replicates: int, seed: int, opts: dict[str, Any]) -> list[tuple]:
    """``(size, replicate, seed, opts)`` of every replicate, each seed from its own child stream."""
    children = np.random.SeedSequence([seed, 2]).spawn(len(sizes) * replicates)
    return [(s, r, _int_seed(children[i * replicates + r]), opts)
            for i, s in enumerate(sizes) for r in range(replicates)]


def _validated_pool(the_pool: PowerPool) -> PowerPool:
    """The pool with its clinical and feature tables validated once (replicates take subsets).

    Raises
    ------
    InputError
        When the pool does not hold exactly two pipelines.
    """
    from ._inputs import load_clinical, load_pipelines

    names = list(the_pool.features)
    if len(names) != 2:
        raise InputError(f"a power pool needs exactly two pipelines (reference, degraded); got {names}")
    cleaned = load_pipelines(dict(the_pool.features))
    clinical, _ = load_clinical(the_pool.clinical)
    return PowerPool(clinical, {p.name: p.table for p in cleaned}, the_pool.meta)


def _log_skipped(reps: pd.DataFrame) -> None:
    """Warn when some replicate tests gave no p-value, naming the first error."""
    n_skip = int(reps["p_holm"].isna().sum())
    if n_skip:
        first = reps.loc[reps["p_holm"].isna(), "error"].dropna()
        logger.warning("%d of %d replicate tests could not run (e.g. %s)", n_skip, len(reps),
                       first.iloc[0] if len(first) else "no p-value")

def _check_power_options(sizes, *, replicates, folds, n_jobs, reference, degraded) -> None:
    """Validate the options of :func:`power` that are not analysis options (InputError naming the option)."""
    for name, v in (("--replicates", replicates), ("--jobs", n_jobs)):
        if int(v) != v or v < 1:
            raise InputError(f"{name} must be an integer >= 1; got {v!r}")
    if not sizes or min(sizes) < max(folds, 2):
        raise InputError(f"--sizes must be cohort sizes of at least --folds ({folds}) patients; got {list(sizes)}")
    if reference == degraded:
        raise InputError(f"--reference and --degraded are both {reference!r}; compare two different masks")


def _run_replicates(jobs: list, pool_obj: PowerPool, n_jobs: int, progress: bool) -> pd.DataFrame:
    """Every replicate's planned comparison, in processes when ``n_jobs > 1``; one row per test."""
    from rich.progress import BarColumn, MofNCompleteColumn, TimeElapsedColumn

    from .._progress import progress_bar

    global _POOL
    rows: list[dict[str, Any]] = []
    cols = ["[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with progress_bar(*cols, enabled=progress) as bar:
        task_id = bar.add_task(f"{len(jobs)} replicates", total=len(jobs))
        if n_jobs > 1:
            with ProcessPoolExecutor(n_jobs, mp_context=_context(), initializer=_init_worker,
                                     initargs=(pool_obj,)) as ex:
                for part in ex.map(_replicate, jobs, chunksize=max(1, len(jobs) // (8 * n_jobs))):
                    rows += part
                    bar.advance(task_id)
        else:
            _POOL = pool_obj
            try:
                for job in jobs:
                    rows += _replicate(job)
                    bar.advance(task_id)
            finally:
                _POOL = None
    reps = pd.DataFrame(rows)
    for c in ("difference", "p", "p_holm", "n_rows", "n_patients"):
        if c not in reps.columns:
            reps[c] = np.nan
    if "significant" not in reps.columns:
        reps["significant"] = np.nan
    if "error" not in reps.columns:
        reps["error"] = None
    return reps


def _power_table(reps: pd.DataFrame) -> pd.DataFrame:
    """Power (share of significant replicates) with Wilson CIs per task, model, metric and size."""
    table_rows = []
    for (task, model, metric, s), g in reps.groupby(["task", "model", "metric", "size"], sort=False):
        ran = g[g["p_holm"].notna()]
        sig = ran["significant"].astype(bool)
        k = int(sig.sum())
        worse = ran["difference"] > 0 if metric in LOWER_IS_BETTER else ran["difference"] < 0
        k_worse = int((sig & worse).sum())
        lo, hi = _wilson(k, len(ran))
        table_rows.append({"task": task, "model": model, "metric": metric, "size": int(s),
                           "replicates": len(g), "run": len(ran), "significant": k,
                           "power": k / len(ran) if len(ran) else np.nan, "ci_low": lo, "ci_high": hi,
                           "significant_worse": k_worse,
                           "power_worse": k_worse / len(ran) if len(ran) else np.nan,
                           "mean_difference": float(ran["difference"].mean()) if len(ran) else np.nan,
                           "median_p": float(ran["p"].median()) if len(ran) else np.nan})
    table = pd.DataFrame(table_rows, columns=list(POWER_COLUMNS))
    return table


def _write(result: PowerResult, out: Path, overwrite: bool) -> None:
    from .._io import atomic_dir, write_json

    with atomic_dir(out, overwrite=overwrite) as tmp:
        result.table.to_parquet(tmp / "power.parquet", index=False)
        result.table.to_csv(tmp / "power.csv", index=False)
        result.replicates.to_parquet(tmp / "replicates.parquet", index=False)
        _plot(result, tmp / "power.png")
        write_json(tmp / "power.json", result.meta)
    result.out = out


def _plot(result: PowerResult, path: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5, 3.8), dpi=120)
    ax = fig.add_subplot()
    for (task, model, metric), g in result.table.groupby(["task", "model", "metric"], sort=False):
        g = g.sort_values("size")
        line, = ax.plot(g["size"], g["power"], marker="o", label=f"{task} / {model} ({metric})")
        ax.fill_between(g["size"], g["ci_low"], g["ci_high"], alpha=0.2, color=line.get_color())
    ax.axhline(0.8, color="0.5", lw=0.8, ls="--")
    ax.set_xscale("log")
    sizes = sorted(result.table["size"].unique())
    ax.set_xticks(sizes, [str(s) for s in sizes])
    ax.minorticks_off()
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("patients")
    ax.set_ylabel(f"power (Holm p < {result.meta['alpha']:g})")
    ax.set_title(f"{result.meta['reference']} vs {result.meta['degraded']}: "
                 f"{result.meta['replicates']} replicates per size, 95% Wilson CI", fontsize=9)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
