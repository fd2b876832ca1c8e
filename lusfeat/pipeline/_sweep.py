"""Plan and run a confidence-strategy sweep (see the package docstring for the layout)."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import platform
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._config import AnalysisConfig, FeatureConfig, TrainConfig
from .._errors import InputError
from .._io import read_json, write_json, write_parquet
from .._masks import MaskSource, parse_mask_source
from .._progress import progress_bar
from ..data import open_cohort
from ..labels import Strategy, parse_strategy
from ._cache import StageCache, code_version

__all__ = ["SweepConfig", "SWEEP_ANALYSIS", "SWEEP_ANALYSIS_OPTIONS", "SWEEP_TRAIN", "SWEEP_TRAIN_OPTIONS", "Stage", "StudyPlan", "plan_sweep", "run_sweep", "DEFAULT_STRATEGIES"]

log = logging.getLogger(__name__)

#: Strategies of the default sweep.
DEFAULT_STRATEGIES: tuple[str, ...] = (
    "threshold:50", "threshold:60", "threshold:70", "threshold:80", "threshold:90", "threshold:100",
    "soft", "weighted:60", "ignore:40-60",
)
#: Thresholds (percent) of the reference pipelines built from fused labels.
DEFAULT_THRESHOLDS: tuple[int, ...] = (50, 60, 70, 80, 90, 100)


#: Training defaults of a sweep (see :class:`SweepConfig`).
SWEEP_TRAIN = TrainConfig(folds=5, batch_size=16, depth=4, width=16)
#: The training options ``lusfeat sweep`` has flags for, in help order.
SWEEP_TRAIN_OPTIONS: tuple[str, ...] = ("folds", "epochs", "batch_size", "size", "depth", "width", "device",
                                        "threads")
#: Analysis defaults of a sweep: every task with the XGBoost and linear families.
SWEEP_ANALYSIS: dict[str, Any] = {"tasks": ("sf", "sf-change", "readmission"), "models": ("xgboost", "linear")}
#: The analysis options ``lusfeat sweep`` has flags for, by the sweep's own name (``--analysis-folds``).
SWEEP_ANALYSIS_OPTIONS: dict[str, str] = {"analysis_folds": "folds", "analysis_repeats": "repeats",
                                          "analysis_bootstrap": "bootstrap", "min_events": "min_events"}


def _sweep_analysis() -> AnalysisConfig:
    return AnalysisConfig(**SWEEP_ANALYSIS)


@dataclass(frozen=True)
class SweepConfig:
    """Options of a sweep.

    Attributes
    ----------
    strategies : tuple of str
        Label strategies (``lusfeat.labels.parse_strategy`` syntax).
    baseline : str
        Strategy every other pipeline is compared with (added if missing).
    thresholds : tuple of int
        Thresholds of the ``labels-<T>`` reference pipelines (empty: none).
    seeds : int
        Training repeats with seeds ``seed, seed + 1, ...``.
    seed : int
        Base seed of training, evaluation bootstrap and analysis.
    train : TrainConfig
        Training options (:class:`lusfeat.seg.TrainConfig`; the sweep's defaults
        are :data:`SWEEP_TRAIN`: 5 patient folds, batch 16, a 4-level U-Net of
        width 16). Each training's seed is ``seed + k``, so ``train.seed`` is
        not used. ``threads`` (CPU threads for torch, also the analysis'
        XGBoost threads) is part of the train and segment cache keys: on the
        CPU the thread count changes the order of floating-point reductions
        and so the trained weights (None, torch's default, is its own key: pass
        a number for results that reproduce on another machine).
    features : FeatureConfig
        Feature options (:class:`lusfeat.features.FeatureConfig`; ``backend``
        ``auto`` uses CuPy kernels on a GPU).
    eval_bootstrap : int
        Patient bootstrap draws of the segmentation CIs.
    analysis : AnalysisConfig
        Downstream analysis (:class:`lusfeat.stats.AnalysisConfig`; the sweep's
        defaults are :data:`SWEEP_ANALYSIS`). Its ``seed`` and ``n_jobs`` are
        not used: the analysis runs with the sweep's ``seed`` and ``threads``.

    The options of the three composed configs are also keywords and
    attributes of the config itself, under the names ``lusfeat sweep`` and
    ``study.json`` use: the training options by their own names
    (``SweepConfig(epochs=3).epochs``), ``backend``, ``analysis_folds``,
    ``analysis_repeats``, ``analysis_bootstrap``, ``tasks``, ``models`` and
    ``min_events``; ``dataclasses.replace(config, epochs=3)`` works.

    Notes
    -----
    The *best* strategy, the second reference of the paired comparisons, is
    the strategy whose out-of-fold masks have the highest mean Dice over
    classes against the true masks (simulated cohorts) or against the fused
    labels at 60 % (other cohorts), averaged over seeds.
    """

    strategies: tuple[str, ...] = DEFAULT_STRATEGIES
    baseline: str = "threshold:50"
    thresholds: tuple[int, ...] = DEFAULT_THRESHOLDS
    seeds: int = 1
    seed: int = 0
    train: TrainConfig = field(default_factory=lambda: SWEEP_TRAIN)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    eval_bootstrap: int = 1000
    analysis: AnalysisConfig = field(default_factory=_sweep_analysis)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_parsed", self._check())

    def __getattr__(self, name: str) -> Any:
        if name in _FLAT:  # the composed configs' options, as attributes of the sweep's config
            part, attr = _FLAT[name]
            return getattr(self.__dict__[part], attr)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def check(self) -> tuple[Strategy, list[Strategy]]:
        """The parsed strategies (the options were checked when the config was made).

        Returns
        -------
        baseline : Strategy
        strategies : list of Strategy
            The baseline first, then the other strategies, without repeats.
        """
        return self._parsed

    def to_dict(self) -> dict[str, Any]:
        """The config as ``study.json`` records it: flat, the composed configs' options among the others.

        Options the sweep has no flag for are listed only when they differ
        from the sweep's defaults, so the record of a default sweep does not
        change.
        """
        training = {name: getattr(self.train, name) for name in SWEEP_TRAIN_OPTIONS}
        ordered = {
            "strategies": self.strategies, "baseline": self.baseline, "thresholds": self.thresholds,
            "seeds": self.seeds, "seed": self.seed, **training, **_extra_training(self.train),
            "backend": self.backend, **_extra(self.features, FeatureConfig(), ("backend",)),
            "eval_bootstrap": self.eval_bootstrap,
            **{flat: getattr(self.analysis, name) for flat, name in SWEEP_ANALYSIS_OPTIONS.items()
               if flat != "min_events"},
            "tasks": self.tasks, "models": self.models, "min_events": self.min_events,
            **self.extra_analysis(),
        }
        return {k: list(v) if isinstance(v, tuple) else v for k, v in ordered.items()}

    def extra_analysis(self) -> dict[str, Any]:
        """Analysis options the sweep has no flag for, where they differ from the sweep's defaults."""
        return _extra(self.analysis, _sweep_analysis(),
                      (*SWEEP_ANALYSIS_OPTIONS.values(), "tasks", "models", "seed", "n_jobs"))

    def _check(self) -> tuple[Strategy, list[Strategy]]:
        """Raise :class:`InputError` naming the first invalid option; return the parsed strategies."""
        if not self.strategies:
            raise InputError("--strategies is empty; give at least one strategy")
        baseline = parse_strategy(self.baseline)
        strategies = list({st.spec: st for st in (baseline, *map(parse_strategy, self.strategies))}.values())
        for name, kind in (("train", TrainConfig), ("features", FeatureConfig), ("analysis", AnalysisConfig)):
            if not isinstance(getattr(self, name), kind):
                raise InputError(f"{name} must be a {kind.__name__}, got {type(getattr(self, name)).__name__}")
        if int(self.seeds) < 1:
            raise InputError(f"--seeds must be >= 1, got {self.seeds}")
        bad = [t for t in self.thresholds if not 1 <= int(t) <= 100]
        if bad:
            raise InputError(f"--thresholds must be within 1..100, got {bad}")
        return baseline, strategies


#: Flat names of the composed configs' options -> (part, field).
_FLAT: dict[str, tuple[str, str]] = {
    **{f.name: ("train", f.name) for f in fields(TrainConfig) if f.name != "seed"},
    "backend": ("features", "backend"),
    **{flat: ("analysis", name) for flat, name in SWEEP_ANALYSIS_OPTIONS.items()},
    "tasks": ("analysis", "tasks"), "models": ("analysis", "models"),
}
#: The sweep's default of each composed config.
_SWEEP_PARTS: dict[str, Callable[[], Any]] = {"train": lambda: SWEEP_TRAIN, "features": FeatureConfig,
                                             "analysis": _sweep_analysis}
_generated_init = SweepConfig.__init__


@functools.wraps(_generated_init)
def _init(self: SweepConfig, *args: Any, **kwargs: Any) -> None:
    """``SweepConfig(..., epochs=3, analysis_folds=3)``: options given flat go into their config."""
    flat: dict[str, dict[str, Any]] = {}
    for k in [k for k in kwargs if k in _FLAT]:
        part, name = _FLAT[k]
        flat.setdefault(part, {})[name] = kwargs.pop(k)
    for part, values in flat.items():
        base = kwargs.get(part) or _SWEEP_PARTS[part]()
        try:
            kwargs[part] = replace(base, **values)
        except InputError as exc:  # name the sweep's flag: --analysis-folds, not --folds
            message = str(exc)
            for flat_name, (p, name) in _FLAT.items():
                if p == part and flat_name != name and name in values:
                    message = message.replace(f"--{name.replace('_', '-')} ", f"--{flat_name.replace('_', '-')} ")
            raise InputError(message) from None
    _generated_init(self, *args, **kwargs)


SweepConfig.__init__ = _init  # type: ignore[method-assign]


def _extra(config: Any, defaults: Any, flagged: tuple[str, ...]) -> dict[str, Any]:
    """Fields of ``config`` not in ``flagged`` whose value differs from ``defaults``'."""
    return {f.name: getattr(config, f.name) for f in fields(config)
            if f.name not in flagged and getattr(config, f.name) != getattr(defaults, f.name)}


def _extra_training(train: TrainConfig) -> dict[str, Any]:
    """Training options the sweep has no flag for, where they differ from their defaults."""
    return _extra(train, TrainConfig(), (*SWEEP_TRAIN_OPTIONS, "seed"))


@dataclass
class _Ctx:
    cohort: Path
    study: Path
    config: SweepConfig


@dataclass
class Stage:
    """One unit of cached work."""

    id: str
    kind: str
    pipeline: str
    out: Path
    options: dict[str, Any]
    deps: list[str]
    code: str
    run: Callable[[Stage, _Ctx], None]
    #: Parsed input of the stage body (the Strategy of a training, the MaskSource of label
    #: masks and features); its text form is in ``options``, the cache key.
    spec: Strategy | MaskSource | None = None
    key: str = ""
    cached: bool = False
    seconds: float | None = None


@dataclass
class StudyPlan:
    """All stages of a sweep in execution order."""

    study: Path
    cohort: Path
    config: SweepConfig
    cohort_key: str
    has_truth: bool
    baseline: Strategy | None = None
    stages: list[Stage] = field(default_factory=list)
    pipelines: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, stage: Stage) -> Stage:
        """Append ``stage`` with its cache key (from its dependencies' keys) and status."""
        cache = StageCache(self.study)
        dep_keys = [next(s.key for s in self.stages if s.id == d) for d in stage.deps]
        stage.key = cache.key(stage.kind, stage.options, dep_keys, stage.code, self.cohort_key)
        stage.cached = cache.is_done(stage.id, stage.key, stage.out)
        stage.seconds = cache.seconds(stage.id) if stage.cached else None
        self.stages.append(stage)
        return stage

    def table(self) -> pd.DataFrame:
        """The plan as a table: stage, kind, pipeline, cached, output."""
        return pd.DataFrame(
            [{"stage": s.id, "kind": s.kind, "pipeline": s.pipeline, "cached": s.cached,
              "output": str(s.out.relative_to(self.study))} for s in self.stages]
        )


def _pipeline_name(strategy_name: str, seed_index: int, seeds: int) -> str:
    return strategy_name if seeds == 1 else f"{strategy_name}-s{seed_index}"


def plan_sweep(cohort: str | os.PathLike, out: str | os.PathLike, config: SweepConfig | None = None) -> StudyPlan:
    """Build the stages of a sweep (nothing runs).

    Parameters
    ----------
    cohort : path-like
        Cohort folder.
    out : path-like
        Study folder.
    config : SweepConfig, optional
        The sweep's options (default: ``SweepConfig()``).

    Returns
    -------
    StudyPlan
        Stages in order, with cache keys and whether each is cached. The
        comparisons against the best strategy are planned by
        :func:`run_sweep` once the evaluations are known.
    """
    config = SweepConfig() if config is None else config
    baseline, strategies = config.check()
    cohort = Path(cohort)
    c = open_cohort(cohort)
    c.require_labels("sweep")
    study = Path(out)
    plan = StudyPlan(study=study, cohort=cohort, config=config, cohort_key=c.fingerprint,
                     has_truth=c.truth is not None, baseline=baseline)
    add = plan.add
    code_seg = code_version("seg", "labels", "data")
    code_feat = code_version("features", "labels", "data")

    model_opts = {"depth": config.depth, "width": config.width}
    for k in range(config.seeds):
        seed = config.seed + k
        for st in strategies:
            name = _pipeline_name(st.name, k, config.seeds)
            plan.pipelines[name] = {"kind": "strategy", "strategy": st.spec, "strategy_name": st.name, "seed": seed}
            train_opts = {
                "strategy": st.spec, "folds": config.folds, "epochs": config.epochs, "seed": seed,
                "size": config.size, "batch_size": config.batch_size, "model": model_opts,
                "device": config.device, "threads": config.threads,
                **_extra_training(config.train),  # only when set: default sweeps keep their keys
            }
            add(Stage(f"train/{name}", "train", name, study / "runs" / name, train_opts, [], code_seg, _run_train,
                      spec=st))
            add(Stage(f"segment/{name}", "segment", name, study / "masks" / name,
                      {"device": config.device, "threads": config.threads},
                      [f"train/{name}"], code_seg, _run_segment))
            add(Stage(f"evaluate/{name}", "evaluate", name, study / "evaluation" / name,
                      {"thresholds": list(config.thresholds) or [60], "bootstrap": config.eval_bootstrap,
                       "seed": config.seed}, [f"segment/{name}"], code_seg, _run_evaluate))
            add(Stage(f"features/{name}", "features", name, study / "features" / name,
                      {"masks": "segment", "backend": config.backend}, [f"segment/{name}"], code_feat,
                      _run_features))
    refs = {f"labels-{t}": MaskSource.labels(t) for t in config.thresholds}
    if c.truth is not None:
        refs["truth"] = parse_mask_source("truth")
    for ref, src in refs.items():
        source = src.spec  # truth, labels:T
        plan.pipelines[ref] = {"kind": "reference", "source": source}
        if ref != "truth" and c.truth is not None:
            # how close the fused labels themselves are to the truth
            add(Stage(f"labelmasks/{ref}", "labelmasks", ref, study / "masks" / ref, {"source": source},
                      [], code_seg, _run_label_masks, spec=src))
            add(Stage(f"evaluate/{ref}", "evaluate", ref, study / "evaluation" / ref,
                      {"thresholds": list(config.thresholds), "bootstrap": config.eval_bootstrap,
                       "seed": config.seed}, [f"labelmasks/{ref}"], code_seg, _run_evaluate))
        add(Stage(f"features/{ref}", "features", ref, study / "features" / ref,
                  {"masks": source, "backend": config.backend}, [], code_feat, _run_features, spec=src))
    base = baseline.name
    for k in range(config.seeds):
        _add_analysis(plan, _pipeline_name(base, k, config.seeds), k)
    return plan


def _analysis_pipelines(plan: StudyPlan, seed_index: int) -> list[str]:
    seeds = plan.config.seeds
    names = [n for n, p in plan.pipelines.items()
             if p["kind"] == "reference" or (p["seed"] - plan.config.seed == seed_index or seeds == 1)]
    return names


def _add_analysis(plan: StudyPlan, reference: str, seed_index: int) -> Stage:
    cfg = plan.config
    names = _analysis_pipelines(plan, seed_index)
    others = [n for n in names if n != reference]
    opts = {
        "reference": reference, "compare": others, "tasks": list(cfg.tasks), "models": list(cfg.models),
        "folds": cfg.analysis_folds, "repeats": cfg.analysis_repeats, "bootstrap": cfg.analysis_bootstrap,
        "seed": cfg.seed, "min_events": cfg.min_events,
        **cfg.extra_analysis(),  # only when set: default sweeps keep their keys
    }
    sid = f"analysis/vs-{reference}"
    return plan.add(Stage(sid, "analysis", reference, plan.study / "analysis" / f"vs-{reference}", opts,
                          [f"features/{n}" for n in names], code_version("stats", "features"), _run_analysis))


# --- stage bodies -------------------------------------------------------------------------


def _run_train(stage: Stage, cx: _Ctx) -> None:
    from ..seg import train

    kwargs = replace(cx.config.train, seed=stage.options["seed"]).train_kwargs()
    train(cx.cohort, stage.out, stage.spec, **kwargs, progress=False, overwrite=True)


def _run_segment(stage: Stage, cx: _Ctx) -> None:
    from ..seg import segment

    segment(cx.cohort, cx.study / "runs" / stage.pipeline, stage.out, device=stage.options["device"],
            threads=cx.config.threads, progress=False, overwrite=True)


def _run_label_masks(stage: Stage, cx: _Ctx) -> None:
    from ..data import MaskWriter
    from ..labels import fit_staple_table, fused_masks

    c = open_cohort(cx.cohort)
    src = stage.spec
    table = fit_staple_table(c.confidence, src.fusion)
    h, w = c.shape
    with MaskWriter(stage.out, c.n_frames, h, w, overwrite=True) as mw:
        for s in range(0, c.n_frames, 256):
            conf = np.asarray(c.confidence[s : s + 256])
            mw.write(s, fused_masks(conf, src.threshold, src.fusion, staple_table=table))
        mw.finish({"producer": "labels", "source": stage.options["source"], "fusion": src.fusion.value,
                   "cohort": {"path": str(c.path), "fingerprint": c.fingerprint}})


def _run_evaluate(stage: Stage, cx: _Ctx) -> None:
    from ..seg import evaluate

    o = stage.options
    evaluate(cx.cohort, cx.study / "masks" / stage.pipeline, stage.out, thresholds=tuple(o["thresholds"]),
             bootstrap=o["bootstrap"], seed=o["seed"], progress=False, overwrite=True)


def _run_features(stage: Stage, cx: _Ctx) -> None:
    from ..features import extract

    o = stage.options
    masks = cx.study / "masks" / stage.pipeline if o["masks"] == "segment" else stage.spec
    extract(cx.cohort, masks, stage.out, **cx.config.features.extract_kwargs(), progress=False, overwrite=True)


def _run_analysis(stage: Stage, cx: _Ctx) -> None:
    from ..stats import analyze

    o = stage.options
    feats = cx.study / "features"
    options = replace(cx.config.analysis, seed=o["seed"], n_jobs=max(1, cx.config.threads or 1))
    analyze(
        {o["reference"]: feats / o["reference"]}, cx.cohort, compare={n: feats / n for n in o["compare"]},
        out=stage.out, progress=False, overwrite=True, **options.analyze_kwargs(),
    )


# --- running -----------------------------------------------------------------------------


def _hardware() -> dict[str, Any]:
    info: dict[str, Any] = {"platform": platform.platform(), "python": platform.python_version(),
                            "cpus": os.cpu_count()}
    try:
        import torch

        info["torch"] = torch.__version__
        info["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:  # pragma: no cover - torch is a dependency
        info["cuda"] = None
    try:
        import cupy  # noqa: F401

        info["cupy"] = cupy.__version__
    except Exception:
        info["cupy"] = None
    return info


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {}
    for pkg in ("lusfeat", "numpy", "scipy", "scikit-image", "torch", "xgboost", "statsmodels",
                "scikit-learn", "pandas", "pyarrow", "zarr"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _execute(plan: StudyPlan, stages: list[Stage], cache: StageCache, progress, task) -> None:
    ctx = _Ctx(plan.cohort, plan.study, plan.config)
    for stage in stages:
        label = f"{stage.kind:<9} {stage.pipeline}"
        if progress is not None:
            progress.update(task, description=label)
        if stage.cached:
            log.info("%s: cached (%s)", label, stage.out)
        else:
            cache.invalidate(stage.id, stage.out)  # stale marker or output of other options
            t0 = time.perf_counter()
            stage.run(stage, ctx)
            stage.seconds = time.perf_counter() - t0
            cache.record(stage.id, stage.key, stage.seconds, {"kind": stage.kind, "pipeline": stage.pipeline})
            log.info("%s: %.1f s -> %s", label, stage.seconds, stage.out)
        if progress is not None:
            progress.advance(task)


def _run_stage_task(stage: Stage, ctx: _Ctx, *deps: Any) -> float | None:
    """Run one stage on a worker unless the cache says it is done; returns its seconds.

    ``deps`` are the futures of the stages it reads (Dask waits for them). The
    cache marker is checked again here, so sweeps of several clients on one
    study (a shared file system) skip what another has finished meanwhile.
    """
    cache = StageCache(ctx.study)
    if cache.is_done(stage.id, stage.key, stage.out):
        return cache.seconds(stage.id)
    cache.invalidate(stage.id, stage.out)
    t0 = time.perf_counter()
    stage.run(stage, ctx)
    seconds = time.perf_counter() - t0
    cache.record(stage.id, stage.key, seconds, {"kind": stage.kind, "pipeline": stage.pipeline})
    return seconds


def _execute_on(client: Any, plan: StudyPlan, stages: list[Stage], progress, task) -> None:
    """Submit every stage that is not cached as a Dask task after the stages it reads; wait for all.

    Independent stages (the trainings of every strategy, fold and seed, then each
    pipeline's segment, evaluate and features) run on as many workers as there are.
    """
    from distributed import as_completed

    ctx = _Ctx(plan.cohort, plan.study, plan.config)
    futures: dict[str, Any] = {}
    for stage in stages:
        if stage.cached:
            log.info("%-9s %s: cached (%s)", stage.kind, stage.pipeline, stage.out)
            if progress is not None:
                progress.advance(task)
            continue
        deps = [futures[d] for d in stage.deps if d in futures]
        futures[stage.id] = client.submit(_run_stage_task, stage, ctx, *deps, key=f"sweep-{stage.id}-{stage.key}",
                                          pure=False, retries=1)
    by_key = {f.key: sid for sid, f in futures.items()}
    stage_of = {s.id: s for s in stages}
    try:
        for fut in as_completed(list(futures.values())):
            stage = stage_of[by_key[fut.key]]
            stage.seconds = fut.result()
            log.info("%-9s %s: %.1f s -> %s", stage.kind, stage.pipeline, stage.seconds or 0.0, stage.out)
            if progress is not None:
                progress.update(task, description=f"{stage.kind:<9} {stage.pipeline}")
                progress.advance(task)
    except BaseException:
        client.cancel(list(futures.values()))
        raise


def _mean_dice(study: Path, pipelines: dict[str, dict[str, Any]], has_truth: bool) -> dict[str, float]:
    ref = "truth" if has_truth else "labels:60"
    scores: dict[str, list[float]] = {}
    for name, p in pipelines.items():
        if p["kind"] != "strategy":
            continue
        summ = pd.read_parquet(study / "evaluation" / name / "summary.parquet")
        d = summ[(summ["reference"] == ref) & (summ["metric"] == "dice")]
        if d.empty:  # e.g. a real cohort evaluated without threshold 60
            d = summ[summ["metric"] == "dice"]
        scores.setdefault(p["strategy_name"], []).append(float(d["estimate"].mean()))
    return {k: float(np.mean(v)) for k, v in scores.items()}


def run_sweep(
    cohort: str | os.PathLike,
    out: str | os.PathLike,
    config: SweepConfig | None = None,
    *,
    dry_run: bool = False,
    scheduler: Any = None,
    progress: bool = True,
) -> StudyPlan:
    """Run (or resume) a sweep; finished stages are reused from the cache.

    Parameters
    ----------
    cohort : path-like
        Cohort folder.
    out : path-like
        Study folder (created if missing; an existing study is resumed).
    config : SweepConfig, optional
        The sweep's options (default: ``SweepConfig()``).
    dry_run : bool
        Only plan: return the plan with what is cached, run nothing.
    scheduler : str, SchedulerSpec or distributed.Client, optional
        ``None`` runs the stages one after the other in this process.
        ``"local[:N]"`` or ``"tcp://HOST:PORT"`` submits every stage that is not
        cached as a Dask task that waits for the stages it reads, so
        independent trainings, segmentations, evaluations and feature
        extractions run on all workers at once (on a GPU cluster, one worker
        per GPU; the study folder must be on a file system every worker sees).
        The content-addressed cache stays the one source of truth: each task
        checks its marker before running, so a rerun, or a second client on
        the same study, skips what is done; the tables equal the in-process ones.
    progress : bool
        Show a rich progress display (stage, pipeline).

    Returns
    -------
    StudyPlan
        The executed plan, with per-stage seconds and cache status.
    """
    study, cohort = Path(out), Path(cohort)
    _check_study_folder(study)
    from .._scheduler import parse_scheduler

    spec = scheduler if hasattr(scheduler, "submit") else parse_scheduler(scheduler)
    plan = plan_sweep(cohort, study, config)
    if dry_run:
        return plan
    cache = _open_study(study, spec)
    meta = _start_record(plan)
    t_start = time.perf_counter()
    with contextlib.ExitStack() as stack:
        bar, task = _progress_display(stack, len(plan.stages) + 1) if progress else (None, None)
        clients: list[Any] = []

        def execute(stages: list[Stage]) -> None:
            if spec is None or all(st.cached for st in stages):
                _execute(plan, stages, cache, bar, task)
                return
            if not clients:  # a cluster only when something is left to do
                from .._scheduler import dask_client

                clients.append(stack.enter_context(dask_client(spec)))
            _execute_on(clients[0], plan, stages, bar, task)

        best, dice, base = _run_phases(plan, execute, bar, task)
    _finish_record(plan, meta, best, dice, base, time.perf_counter() - t_start)
    log.info("sweep complete in %.1f s: best strategy %s; study in %s", meta["wall_seconds"], best, study)
    return plan


def _check_study_folder(study: Path) -> None:
    """Refuse a file, or a folder with content that is not a study."""
    if study.exists() and not study.is_dir():
        raise InputError(f"--out {study} is a file; give a folder for the study")
    if study.exists() and any(study.iterdir()) and not (study / "study.json").exists():
        raise InputError(f"{study} exists and is not a lusfeat study; choose an empty or new folder")


def _open_study(study: Path, spec: Any) -> StageCache:
    """Create the study folder and its cache; remove partial outputs of an interrupted local run."""
    study.mkdir(parents=True, exist_ok=True)
    cache = StageCache(study)
    # with a scheduler other clients may be writing into the same study: their temporaries
    # are left alone (each stage's atomic writer still removes those of dead local processes)
    removed = cache.clean_partial() if spec is None else []
    if removed:
        log.info("removed %d partial output(s) of an interrupted run", len(removed))
    return cache


def _start_record(plan: StudyPlan) -> dict[str, Any]:
    """Write ``study.json`` with status ``running``; return its content."""
    meta = {
        "format": "lusfeat-study", "format_version": 1, "cohort": str(plan.cohort.resolve()),
        "config": plan.config.to_dict(), "pipelines": plan.pipelines, "status": "running",
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"), "versions": _versions(), "hardware": _hardware(),
    }
    write_json(plan.study / "study.json", meta)
    return meta


def _progress_display(stack: contextlib.ExitStack, total: int) -> tuple[Any, Any]:
    """A started rich progress display (stopped when ``stack`` closes) and its task."""
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn

    bar = progress_bar(TextColumn("sweep"), TextColumn("{task.description:<32}"), BarColumn(),
                       MofNCompleteColumn(), TimeElapsedColumn())
    task = bar.add_task("planning", total=total)
    bar.start()
    stack.callback(bar.stop)
    return bar, task


def _finish_record(plan: StudyPlan, meta: dict[str, Any], best: str, dice: dict[str, float], base: str,
                   seconds: float) -> None:
    """Complete ``study.json``: best strategy, mean Dice, stages with their seconds and keys."""
    meta.update(
        status="complete", finished=time.strftime("%Y-%m-%dT%H:%M:%S"), best=best, mean_dice=dice,
        baseline=base, wall_seconds=round(seconds, 2),
        stages=[{"stage": s.id, "kind": s.kind, "pipeline": s.pipeline, "cached": s.cached,
                 "seconds": None if s.seconds is None else round(s.seconds, 3), "key": s.key,
                 "output": str(s.out.relative_to(plan.study))} for s in plan.stages],
    )
    write_json(plan.study / "study.json", meta)


def _run_phases(plan: StudyPlan, execute: Callable[[list[Stage]], None], bar: Any,
                task: Any) -> tuple[str, dict[str, float], str]:
    """Run the planned stages, then the comparisons against the best strategy, then the tables.

    Returns the best strategy, the mean Dice per strategy and the baseline's name.
    """
    config = plan.config
    execute(plan.stages)
    dice = _mean_dice(plan.study, plan.pipelines, plan.has_truth)
    best = max(dice, key=dice.get)
    base = plan.baseline.name
    if best != base:
        final = [_add_analysis(plan, _pipeline_name(best, k, config.seeds), k) for k in range(config.seeds)]
        if bar is not None:
            bar.update(task, total=len(plan.stages) + 1)
        execute(final)
    if bar is not None:
        bar.update(task, description="tables")
    _write_tables(plan)
    if bar is not None:
        bar.advance(task)
    return best, dice, base


def _strip_seed(name: str) -> str:
    return re.sub(r"-s\d+$", "", name)


def _write_tables(plan: StudyPlan) -> None:
    study = plan.study
    seg_parts = []
    for name, p in plan.pipelines.items():
        path = study / "evaluation" / name / "summary.parquet"
        if not path.exists():  # references of real cohorts are not evaluated
            continue
        s = pd.read_parquet(path)
        s.insert(0, "pipeline", name)
        s.insert(1, "strategy", p.get("strategy", p.get("source")))
        s.insert(2, "seed", p.get("seed", np.nan))
        s.insert(3, "pipeline_kind", p["kind"])
        seg_parts.append(s)
    seg = pd.concat(seg_parts, ignore_index=True)
    down_parts = []
    for st in plan.stages:
        if st.kind == "analysis":
            r = pd.read_parquet(st.out / "results.parquet")
            r.insert(0, "analysis", st.out.name)
            down_parts.append(r)
    down = pd.concat(down_parts, ignore_index=True) if down_parts else pd.DataFrame()
    tables = study / "tables"
    tables.mkdir(exist_ok=True)
    write_parquet(seg, tables / "segmentation.parquet")
    write_parquet(down, tables / "downstream.parquet")
    rows = []
    if plan.config.seeds > 1:
        seg2 = seg[seg["pipeline_kind"] == "strategy"]
        seg2 = seg2.assign(strategy_name=seg2["pipeline"].map(_strip_seed))
        g = seg2.groupby(["strategy_name", "reference", "class", "metric"])["estimate"]
        for (sn, ref, cls, met), v in g:
            rows.append({"strategy": sn, "table": "segmentation", "task": ref, "group": cls, "metric": met,
                         "n_seeds": v.size, "mean": v.mean(), "sd": v.std(ddof=1), "min": v.min(), "max": v.max()})
        if not down.empty:
            m = down[(down["kind"] == "metric") & down["analysis"].str.startswith("vs-")]
            m = m.assign(strategy_name=m["pipeline"].map(_strip_seed)).drop_duplicates(
                ["pipeline", "task", "model", "method", "metric"])
            g = m.groupby(["strategy_name", "task", "model", "metric"])["estimate"]
            for (sn, task, model, met), v in g:
                rows.append({"strategy": sn, "table": "downstream", "task": task, "group": model, "metric": met,
                             "n_seeds": v.size, "mean": v.mean(), "sd": v.std(ddof=1) if v.size > 1 else np.nan,
                             "min": v.min(), "max": v.max()})
    write_parquet(pd.DataFrame(rows, columns=["strategy", "table", "task", "group", "metric", "n_seeds", "mean",
                                              "sd", "min", "max"]), tables / "seeds.parquet")


def read_study(study: str | os.PathLike) -> dict[str, Any]:
    """Read ``study.json`` with a clear error when the folder is not a study."""
    p = Path(study) / "study.json"
    if not p.exists():
        raise InputError(f"{study} is not a lusfeat study (no study.json); run `lusfeat sweep` first")
    return read_json(p)
