"""``lusfeat export``: a cohort as an nnU-Net v2 dataset, a MONAI datalist or COCO for CVAT."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer


class _Format(StrEnum):
    NNUNET = "nnunet"
    MONAI = "monai"
    COCO = "coco"


def export_command(
    cohort: Annotated[Path, typer.Argument(help="Cohort folder (from `lusfeat simulate` or `lusfeat ingest`).")],
    out: Annotated[Path, typer.Argument(help="Output folder; for nnU-Net named DatasetXXX_NAME, e.g. nnUNet_raw/Dataset501_LUS.")],
    format: Annotated[_Format, typer.Option("--format", "-f", help="nnunet (raw dataset), monai (datalist) or coco (for CVAT).")],
    strategy: Annotated[str | None, typer.Option(help="Label strategy, e.g. threshold:60 (default for nnunet/monai), ignore:40-60, soft (monai), threshold:60@staple.")] = None,
    masks: Annotated[Path | None, typer.Option("--masks", help="coco only: a mask set from `lusfeat segment`, written with per-region scores.")] = None,
    folds: Annotated[int, typer.Option(help="Patient folds of splits_final.json / the datalist.")] = 5,
    seed: Annotated[int, typer.Option(help="Seed of the patient shuffle into folds (as `lusfeat train --seed`).")] = 0,
    priority: Annotated[str | None, typer.Option(help="nnunet: class paint order, later wins on overlap (default consolidation,effusion,b_line,a_line,pleural_line).")] = None,
    allow_foreign: Annotated[bool, typer.Option("--allow-foreign", help="Accept a mask set made for another cohort.")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing OUT.")] = False,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")] = True,
) -> None:
    """Export a cohort for nnU-Net v2, MONAI or CVAT (COCO pre-annotation).

    Examples:

      lusfeat export cohort --format nnunet nnUNet_raw/Dataset501_LUS --strategy threshold:60

      lusfeat export cohort --format nnunet nnUNet_raw/Dataset502_LUSignore --strategy ignore:40-60

      lusfeat export cohort --format monai monai_t60 --strategy threshold:60 --folds 5

      lusfeat export cohort --format coco cvat_preannotation --masks masks/t60
    """
    from ..data.export import DEFAULT_PRIORITY, export

    order = tuple(p.strip() for p in priority.split(",")) if priority else DEFAULT_PRIORITY
    path = export(cohort, out, format.value, strategy=strategy, masks=masks, folds=folds, seed=seed,
                  priority=order, allow_foreign=allow_foreign, overwrite=overwrite, progress=progress)
    typer.echo(f"{format.value} export written to {path}")


def register(app: typer.Typer) -> None:
    """Add the ``export`` command to the lusfeat app."""
    app.command("export")(export_command)
