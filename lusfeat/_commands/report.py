"""``lusfeat report``: the study report as HTML (and Markdown)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["register"]


def report(
    study: Annotated[Path, typer.Argument(help="Study folder written by `lusfeat sweep` (holds study.json).")],
    out: Annotated[Path, typer.Option(
        "--out", "-o", help="HTML file to write, e.g. report.html; report.md and report_files/ go beside it.")
    ] = Path("report.html"),
    markdown: Annotated[bool, typer.Option(
        "--markdown/--no-markdown", help="Also write the Markdown version and its PNG folder.")] = True,
    max_examples: Annotated[int, typer.Option(
        "--max-examples", help="Example frames with findings to draw (0: none).")] = 4,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="Hide progress bars.")] = False,
) -> None:
    """Write a self-contained HTML report of a study (all images embedded, no external requests).

    Examples:

      lusfeat report demo/study --out demo/report.html

      lusfeat report study --out study/report.html --no-markdown --max-examples 0
    """
    from ..report._build import build_report

    path = build_report(study, out, markdown=markdown, max_examples=max_examples, progress=not no_progress)
    typer.echo(f"report written to {path}")
    if markdown:
        typer.echo(f"markdown written to {path.with_suffix('.md')} (images in {path.stem}_files/)")


def register(app: typer.Typer) -> None:
    """Add the ``report`` command to the lusfeat app."""
    app.command("report")(report)
