"""CLI commands of the study: ``sweep`` and ``demo``."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer

from .._config import NO_INIT_HELPS, AnalysisConfig, FeatureConfig, TrainConfig, with_options
from .._errors import InputError
from .._scheduler import SCHEDULER_HELP
from ..pipeline._sweep import SWEEP_ANALYSIS_OPTIONS, SWEEP_TRAIN, SWEEP_TRAIN_OPTIONS


def _split(values: list[str] | None) -> tuple[str, ...] | None:
    """Accept repeated options and comma lists; ``threshold:50,60`` expands to
    ``threshold:50, threshold:60`` (a bare item takes the kind of the last ``kind:`` item)."""
    if not values:
        return None
    out: list[str] = []
    for v in values:
        kind = None
        for p in (p.strip() for p in v.split(",")):
            if not p:
                continue
            if ":" in p:
                kind = p.split(":", 1)[0]
            elif kind is not None and p[0].isdigit():
                p = f"{kind}:{p}"
            else:
                kind = None
            out.append(p)
    return tuple(out)


@with_options(TrainConfig, SWEEP_TRAIN_OPTIONS, after="seed",
              defaults={n: getattr(SWEEP_TRAIN, n) for n in SWEEP_TRAIN_OPTIONS}, helps=NO_INIT_HELPS)
@with_options(FeatureConfig, ("backend",), after="seed")
@with_options(AnalysisConfig, tuple(SWEEP_ANALYSIS_OPTIONS.values()), after="eval_bootstrap",
              rename={name: flat for flat, name in SWEEP_ANALYSIS_OPTIONS.items()})
def sweep(
    cohort: Annotated[Path, typer.Argument(help="Cohort folder.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Study folder (resumed if it exists).")],
    strategies: Annotated[
        list[str] | None,
        typer.Option("--strategies", "-s", help="Strategies, e.g. 'threshold:50,60,70' 'soft' 'ignore:40-60' (repeatable)."),
    ] = None,
    baseline: Annotated[str, typer.Option(help="Strategy all others are compared with.")] = "threshold:50",
    thresholds: Annotated[str, typer.Option(help="Reference thresholds of fused labels, comma separated ('' for none).")] = "50,60,70,80,90,100",
    seeds: Annotated[int, typer.Option(help="Training repeats with different seeds.")] = 1,
    seed: Annotated[int, typer.Option(help="Base seed.")] = 0,
    eval_bootstrap: Annotated[int, typer.Option(help="Bootstrap draws of segmentation CIs.")] = 1000,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan and what is cached; run nothing.")] = False,
    scheduler: Annotated[str | None, typer.Option(
        help=SCHEDULER_HELP + " Independent stages (trainings, then segment/evaluate/features per "
             "strategy) run as Dask tasks; the study folder must be on a file system every worker sees.")] = None,
    **options: Any,
) -> None:
    """Run the confidence-strategy study: train, segment, evaluate, features, analysis.

    Examples:

      lusfeat sweep cohort --out study --dry-run

      lusfeat sweep cohort --out study --strategies threshold:50,60,70 --strategies soft --folds 3 --threads 2

      lusfeat sweep cohort --out study --threads 1 --scheduler local:2
    """
    from ..pipeline._sweep import DEFAULT_STRATEGIES, SweepConfig, run_sweep

    try:
        ths = tuple(int(t) for t in thresholds.split(",") if t.strip())
    except ValueError:
        raise InputError(f"--thresholds must be comma-separated integers, got {thresholds!r}") from None
    training = {name: options.pop(name) for name in SWEEP_TRAIN_OPTIONS}
    cfg = SweepConfig(  # the remaining options (backend, analysis_*, min_events) by their flat names
        strategies=_split(strategies) or DEFAULT_STRATEGIES, baseline=baseline, thresholds=ths, seeds=seeds,
        seed=seed, train=replace(SWEEP_TRAIN, **training), eval_bootstrap=eval_bootstrap, **options,
    )
    plan = run_sweep(cohort, out, cfg, dry_run=dry_run, scheduler=scheduler, progress=not dry_run)
    if dry_run:
        from rich.console import Console
        from rich.table import Table

        t = Table(title=f"sweep plan: {len(plan.stages)} stages, {sum(s.cached for s in plan.stages)} cached")
        for col in ("stage", "kind", "pipeline", "status", "output"):
            t.add_column(col)
        for s in plan.stages:
            t.add_row(s.id, s.kind, s.pipeline, "cached" if s.cached else "to run", str(s.out))
        Console().print(t)
        typer.echo("comparisons against the best strategy are planned once evaluations are done")
        return
    typer.echo(f"study written to {out}")


def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the cohort, the study and the report.")] = Path("lusfeat-demo"),
    threads: Annotated[int | None, typer.Option(help="CPU threads (default: all).")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
) -> None:
    """Simulate a small cohort, run a three-strategy sweep and write the report.

    40 patients with 128x128 frames; strategies threshold:50, threshold:60 and
    soft; a small U-Net trained at 64x64, 3 patient folds. Reruns reuse
    finished work.

    Examples:

      lusfeat demo

      lusfeat demo --out demo --threads 2 --device cpu
    """
    from ..pipeline._demo import run_demo

    t0 = time.perf_counter()
    report = run_demo(out, threads=threads, device=device)
    typer.echo(f"demo finished in {time.perf_counter() - t0:.0f} s; report: {report}")


def register(app: typer.Typer) -> None:
    """Add the study commands to the app."""
    app.command()(sweep)
    app.command()(demo)
