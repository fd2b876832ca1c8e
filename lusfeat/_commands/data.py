"""CLI commands of the data stage: ``simulate``, ``validate``, ``show``, ``standardize-gray``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .._errors import InputError


def _parse_exams(text: str) -> tuple[int, int]:
    try:
        if "-" in text:
            lo, hi = text.split("-", 1)
            return int(lo), int(hi)
        v = int(text)
        return v, v
    except ValueError:
        raise InputError(f"--exams must be N or LO-HI (e.g. 3 or 2-4), got {text!r}") from None


def simulate(
    out: Annotated[Path, typer.Argument(help="Cohort folder to create.")],
    patients: Annotated[int, typer.Option(help="Number of patients.")] = 24,
    exams: Annotated[str, typer.Option(help="Exams per patient: N or a range LO-HI.")] = "2-3",
    zones: Annotated[int, typer.Option(help="Lung zones per exam: 6 or 12.")] = 6,
    frames: Annotated[int, typer.Option(help="Frames per clip.")] = 4,
    size: Annotated[int, typer.Option(help="Frame height and width in pixels.")] = 128,
    probe: Annotated[str, typer.Option(help="linear, convex or mixed.")] = "mixed",
    annotators: Annotated[int, typer.Option(help="Simulated annotators per frame.")] = 3,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same bytes).")] = 0,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing cohort.")] = False,
) -> None:
    """Simulate a synthetic LUS cohort with known ground truth.

    Examples:

      lusfeat simulate cohort --patients 12 --size 64

      lusfeat simulate big --patients 200 --exams 3 --zones 12 --probe convex --seed 3
    """
    from ..data._simulate import simulate_cohort

    path = simulate_cohort(
        out, patients=patients, exams=_parse_exams(exams), zones=zones, frames=frames, size=size,
        probe=probe, annotators=annotators, seed=seed, overwrite=overwrite, progress=True,
    )
    typer.echo(f"cohort written to {path}")


def validate(
    path: Annotated[Path, typer.Argument(help="Cohort folder.")],
    strict: Annotated[bool, typer.Option(help="Treat warnings (e.g. no chunk manifest) as errors.")] = False,
) -> None:
    """Check a cohort and print its summary; exit code 1 on any problem.

    Every chunk is checked against the cohort's chunk manifest and decoded.

    Examples:

      lusfeat validate cohort

      lusfeat validate cohort --strict
    """
    from .._errors import ValidationError
    from ..data._validate import validate_cohort

    summary = validate_cohort(path)
    typer.echo(summary.to_text())
    if strict and summary.warnings:
        raise ValidationError(summary.warnings, header="warnings treated as errors (--strict)")
    typer.echo("valid")


def show(
    path: Annotated[Path, typer.Argument(help="Cohort folder.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="PNG file to write.")] = Path("cohort.png"),
    n: Annotated[int, typer.Option("-n", help="Number of frames.")] = 8,
    frame: Annotated[list[int] | None, typer.Option("--frame", help="Array index to show (repeatable).")] = None,
    annotator: Annotated[int | None, typer.Option(help="One annotator instead of the mean.")] = None,
    seed: Annotated[int, typer.Option(help="Seed for picking frames.")] = 0,
    masks: Annotated[str | None, typer.Option(
        help="Masks to draw too: a mask set from `lusfeat segment`, nnU-Net predictions, labels:T or truth.")] = None,
    allow_foreign: Annotated[bool, typer.Option(
        "--allow-foreign", help="Draw masks made for another cohort.")] = False,
) -> None:
    """Render frames with confidence, truth and predicted-mask overlays to a PNG grid.

    Examples:

      lusfeat show cohort --out grid.png -n 4

      lusfeat show cohort --out frame7.png --frame 7 --annotator 0

      lusfeat show real_cohort --out predicted.png --masks masks/real
    """
    from ..data._show import show_cohort

    p = show_cohort(path, out, n=n, frames=frame or None, annotator=annotator, seed=seed, masks=masks,
                    allow_foreign=allow_foreign)
    typer.echo(f"figure written to {p}")


def standardize_gray(
    cohort: Annotated[Path, typer.Argument(help="Cohort folder (e.g. from `lusfeat ingest`).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="New cohort folder with the scaled frames.")],
    like: Annotated[Path | None, typer.Option(
        help="Match the chest wall of this cohort, or of the cohort a `lusfeat train` run or "
             "`lusfeat pretrain` folder was trained on.")] = None,
    level: Annotated[float | None, typer.Option(help="Chest-wall gray level to match (0-255) instead of --like.")]
        = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing --out.")] = False,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")] = True,
) -> None:
    """Scale each frame so that its chest wall has the gray level of a training cohort's.

    Gain is set by the operator and the scanner preset; a network trained on one gray-level
    distribution reads a brighter frame as more echoic lung. The chest wall (the top 10 % of
    the scan region) is soft tissue whatever the lung shows, so one factor per frame brings it
    to the training cohort's level; masks, confidence and tables are copied unchanged.

    Examples:

      lusfeat standardize-gray real_cohort --out real_gray --like pretrained

      lusfeat segment real_gray pretrained/run --out masks --allow-foreign

      lusfeat standardize-gray real_cohort --out real_gray --level 52
    """
    from ..data._gain import reference_level, training_cohort
    from ..data._gain import standardize_gray as run

    if (like is None) == (level is None):
        raise InputError("give exactly one of --like (a cohort, run or pretrain folder) and --level")
    if out.exists() and not overwrite:
        raise InputError(f"output {out} already exists; choose another path or pass --overwrite")
    ref = training_cohort(like) if like is not None else None
    target = reference_level(ref) if ref is not None else float(level)
    path = run(cohort, out, target, overwrite=overwrite, progress=progress)
    typer.echo(f"frames scaled to chest-wall level {target:.1f}"
               f"{f' (of {ref})' if ref is not None else ''}; cohort written to {path}")


def register(app: typer.Typer) -> None:
    """Add the data commands to the app."""
    app.command()(simulate)
    app.command()(validate)
    app.command()(show)
    app.command("standardize-gray")(standardize_gray)
