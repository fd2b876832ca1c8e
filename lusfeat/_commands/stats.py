"""``lusfeat analyze`` (clinical models of exam features with CIs and comparisons) and
``lusfeat power`` (power of a pipeline comparison by simulation)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from .._config import ANALYZE_OPTIONS, POWER_ANALYSIS, AnalysisConfig, with_options

__all__ = ["register"]


@with_options(AnalysisConfig, ANALYZE_OPTIONS, after="compare")
def analyze_command(
    features: Annotated[Path, typer.Argument(
        help="Reference feature pipeline: a features folder or an exam-level Parquet table.")],
    cohort: Annotated[Path, typer.Option("--cohort", help="Cohort folder (clinical table).")],
    out: Annotated[Path, typer.Option("--out", help="Output folder (written atomically).")],
    compare: Annotated[list[Path] | None, typer.Option(
        "--compare", help="Other feature pipelines compared with FEATURES (repeatable).")] = None,
    allow_foreign: Annotated[bool, typer.Option(
        "--allow-foreign", help="Analyse features computed from another cohort (recorded in "
        "analysis.json).")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing --out.")] = False,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="Hide the progress bar.")] = False,
    **options: Any,
) -> None:
    """Predict S/F, S/F change and 30-day readmission from exam features.

    The comparison plan (primary metric per task, confirmatory and exploratory families) is
    printed first and written to OUT/plan.json.

    Examples:

      lusfeat analyze feats/truth --cohort cohort --out analysis --compare feats/t50

      lusfeat analyze feats/t60 --cohort cohort --out a2 --compare feats/t50 --primary sf=rmse --model linear
    """
    from rich.console import Console

    from ..stats._analyze import analyze

    config = AnalysisConfig(**options)  # the options of ANALYZE_OPTIONS, checked
    res = analyze(features, cohort, compare=list(compare or []), out=out, progress=not no_progress,
                  allow_foreign=allow_foreign, overwrite=overwrite, **config.analyze_kwargs())
    console = Console(soft_wrap=True)
    console.print(res.plan.describe(), highlight=False)
    for key, why in res.skipped.items():
        console.print(f"[yellow]skipped {key}:[/] {why}", highlight=False)
    r = res.results
    ran = [t for t in res.meta["options"]["tasks"] if t in set(r["task"])]
    not_ran = [t for t in res.meta["options"]["tasks"] if t not in ran]
    if not_ran:
        console.print(f"[yellow]{len(ran)} of {len(ran) + len(not_ran)} tasks ran[/] ({', '.join(ran)}); "
                      f"skipped: {', '.join(not_ran)} (reasons above)", highlight=False)
    n_metric = int((r["kind"] == "metric").sum())
    conf = r[(r["kind"] == "comparison") & (r["family"] == "confirmatory")]
    n_comp = int((r["kind"] == "comparison").sum())
    n_sig = int((conf["p_holm"] < res.plan.alpha).sum())
    console.print(f"{n_metric} metric rows, {n_comp} comparison rows ({len(conf)} confirmatory, {n_sig} "
                  f"significant after Holm) written to {out}", highlight=False)


def _sizes(text: str) -> list[int]:
    from .._errors import InputError

    try:
        out = [int(v) for v in text.replace(" ", "").split(",") if v]
    except ValueError:
        raise InputError(f"--sizes must be comma-separated patient counts, e.g. 40,80,160,320; got {text!r}") from None
    if not out:
        raise InputError("--sizes: give at least one cohort size, e.g. 40,80,160,320")
    return out


@with_options(AnalysisConfig, tuple(POWER_ANALYSIS), after="pool", defaults=POWER_ANALYSIS)
def power_command(
    out: Annotated[Path, typer.Option("--out", help="Output folder (written atomically).")],
    sizes: Annotated[str, typer.Option("--sizes", help="Cohort sizes in patients, comma-separated.")] = "40,80,160,320",
    replicates: Annotated[int, typer.Option("--replicates", help="Simulated studies per size.")] = 100,
    reference: Annotated[str, typer.Option("--reference", help="Reference masks: truth or labels:T.")] = "truth",
    degraded: Annotated[str, typer.Option(
        "--degraded", help="Degraded masks compared with the reference, e.g. labels:10.")] = "labels:10",
    pool: Annotated[int | None, typer.Option(
        "--pool", help="Simulated patients the replicates are drawn from (default 4 x the largest size).")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the pool and the replicates.")] = 0,
    jobs: Annotated[int, typer.Option("--jobs", help="Worker processes.")] = 2,
    frame_size: Annotated[int, typer.Option("--frame-size", help="Simulated frame size in pixels.")] = 64,
    frames: Annotated[int, typer.Option("--frames", help="Simulated frames per clip.")] = 1,
    zones: Annotated[int, typer.Option("--zones", help="Lung zones per exam: 6 or 12.")] = 6,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing --out.")] = False,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="Hide the progress bars.")] = False,
    **options: Any,
) -> None:
    """Power of the planned pipeline comparison at several cohort sizes, by simulation.

    Simulates a pool of patients, extracts features from the reference and the degraded masks,
    draws cohorts of each size, runs the planned confirmatory comparison and reports the share
    of significant replicates with a 95% Wilson CI (power.csv, power.parquet, power.png).

    Examples:

      lusfeat power --out power-study

      lusfeat power --out p2 --sizes 40,80 --replicates 50 --degraded labels:20 --task readmission --model penalized
    """
    from rich.console import Console

    from ..stats._power import power

    if seed < 0:
        from .._errors import InputError

        raise InputError(f"--seed must be >= 0; got {seed}")
    res = power(out, sizes=_sizes(sizes), replicates=replicates, reference=reference, degraded=degraded,
                pool=pool, seed=seed, n_jobs=jobs, zones=zones, frames=frames, size=frame_size,
                progress=not no_progress, overwrite=overwrite, **options)
    console = Console(soft_wrap=True)
    console.print(res.summary().as_text(), highlight=False)
    sec = res.meta["seconds"]
    console.print(f"power table, replicates and curve written to {out} ({sec['total']:.0f} s: pool "
                  f"{sec['pool']:.0f} s, replicates {sec['replicates']:.0f} s)", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``analyze`` and ``power`` commands to the lusfeat app."""
    app.command("analyze")(analyze_command)
    app.command("power")(power_command)
