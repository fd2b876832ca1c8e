"""``lusfeat features``: compute the feature tables of a cohort."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from .._config import FeatureConfig, with_options
from .._scheduler import SCHEDULER_HELP


def register(app: typer.Typer) -> None:
    """Add the ``features`` command to the lusfeat app."""

    @app.command("features")
    @with_options(FeatureConfig, ("backend", "batch"), after="out")
    def features(
        cohort: Annotated[Path | None, typer.Argument(
            help="Cohort folder (from `lusfeat simulate` or `lusfeat ingest`).")] = None,
        masks: Annotated[str, typer.Option(
            "--masks", help="Mask source: 'truth', 'labels:T' (mean annotator confidence >= T "
            "percent, e.g. labels:60; labels:T@max|@majority|@staple for another fusion), a mask-set "
            "folder or an nnU-Net prediction folder.")] = "truth",
        out: Annotated[Path | None, typer.Option(
            "--out", help="Output folder for the feature tables, e.g. study/features/truth.")] = None,
        scheduler: Annotated[str | None, typer.Option("--scheduler", help=SCHEDULER_HELP)] = None,
        allow_foreign: Annotated[bool, typer.Option(
            "--allow-foreign", help="Accept a mask set made for another cohort (recorded as foreign).")] = False,
        overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing --out.")] = False,
        no_progress: Annotated[bool, typer.Option("--no-progress", help="Hide the progress bar.")] = False,
        describe: Annotated[bool, typer.Option(
            "--describe", help="Print the feature dictionary and exit.")] = False,
        **options: Any,
    ) -> None:
        """Compute morphology features (component -> frame -> clip -> zone -> exam -> patient).

        Examples:

          lusfeat features cohort --masks truth --out features/truth

          lusfeat features cohort --masks labels:60 --out features/labels-60 --backend cpu

          lusfeat features cohort --masks masks/t60 --out features/t60

          lusfeat features cohort --masks masks/t60 --out features/t60 --scheduler local:2

          lusfeat features --describe
        """
        from .._errors import InputError
        from ..features._dictionary import DICTIONARY

        if describe:
            typer.echo(DICTIONARY.to_text())
            return
        if cohort is None or out is None:
            raise InputError("give a COHORT folder and --out DIR (or --describe)")
        from .._masks import parse_mask_source
        from ..features._extract import extract

        config = FeatureConfig(**options)  # checked before the cohort is opened
        path = extract(cohort, parse_mask_source(masks), out, **config.extract_kwargs(), scheduler=scheduler,
                       allow_foreign=allow_foreign, progress=not no_progress, overwrite=overwrite)
        from ..features import open_features

        typer.echo(open_features(path).summary().as_text())
        typer.echo(f"features written to {path}")
