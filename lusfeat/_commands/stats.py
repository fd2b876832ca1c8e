"""``lusfeat analyze``: clinical models of exam features with CIs and comparisons."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["register"]


def analyze_command(
    features: Annotated[Path, typer.Argument(
        help="Reference feature pipeline: a features folder or an exam-level Parquet table.")],
    cohort: Annotated[Path, typer.Option("--cohort", help="Cohort folder (clinical table).")],
    out: Annotated[Path, typer.Option("--out", help="Output folder (written atomically).")],
    task: Annotated[list[str], typer.Option(
        "--task", help="sf, sf-change, readmission or all (repeatable).")] = ["all"],  # noqa: B006
    model: Annotated[list[str], typer.Option(
        "--model", help="xgboost, linear or all (repeatable).")] = ["all"],  # noqa: B006
    compare: Annotated[list[Path] | None, typer.Option(
        "--compare", help="Other feature pipelines compared with FEATURES (repeatable).")] = None,
    folds: Annotated[int, typer.Option("--folds", help="Patient-grouped CV folds K.")] = 5,
    repeats: Annotated[int, typer.Option("--repeats", help="CV repeats R.")] = 2,
    bootstrap: Annotated[int, typer.Option("--bootstrap", help="Patient bootstrap resamples B.")] = 2000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of folds, models and bootstrap.")] = 0,
    n_jobs: Annotated[int, typer.Option("--n-jobs", help="XGBoost threads.")] = 1,
    covariate: Annotated[list[str] | None, typer.Option(
        "--covariate", help="Clinical column added to the features, e.g. age (repeatable).")] = None,
    change_margin: Annotated[float, typer.Option(
        "--change-margin", help="Relative S/F change separating improved/worsened from stable.")] = 0.10,
    change_classes: Annotated[int, typer.Option(
        "--change-classes", help="sf-change classes: 2 (worsened vs improved) or 3.")] = 2,
    sf_model: Annotated[str, typer.Option(
        "--sf-model", help="Linear S/F model: ols (cluster-robust) or mixedlm.")] = "ols",
    min_events: Annotated[int, typer.Option(
        "--min-events", help="Minimum rows per class (patients for sf) for a task to run.")] = 10,
    keep_unreliable_sf: Annotated[bool, typer.Option(
        "--keep-unreliable-sf", help="Keep exams with SpO2 > 97% on supplemental oxygen.")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing --out.")] = False,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="Hide the progress bar.")] = False,
) -> None:
    """Predict S/F, S/F change and 30-day readmission from exam features.

    Example: lusfeat analyze feats/truth --cohort cohort --out analysis --compare feats/t50
    """
    from rich.console import Console

    from ..stats._analyze import analyze

    res = analyze(
        features, cohort, tasks=task, models=model, compare=list(compare or []), out=out,
        folds=folds, repeats=repeats, bootstrap=bootstrap, seed=seed, n_jobs=n_jobs,
        progress=not no_progress, covariates=list(covariate or []), change_margin=change_margin,
        change_classes=change_classes, sf_model=sf_model, min_events=min_events,
        exclude_unreliable_sf=not keep_unreliable_sf, overwrite=overwrite,
    )
    console = Console()
    for key, why in res.skipped.items():
        console.print(f"[yellow]skipped {key}:[/] {why}", highlight=False)
    n_metric = int((res.results["kind"] == "metric").sum()) if len(res.results) else 0
    n_comp = int((res.results["kind"] == "comparison").sum()) if len(res.results) else 0
    console.print(f"{n_metric} metric rows, {n_comp} comparison rows written to {out}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``analyze`` command to the lusfeat app."""
    app.command("analyze")(analyze_command)
