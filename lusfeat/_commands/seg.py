"""``lusfeat pretrain``, ``lusfeat ensemble``, ``lusfeat train``, ``lusfeat segment`` and ``lusfeat evaluate``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from .._config import (
    NO_INIT_HELPS,
    PRETRAIN_OPTIONS,
    PRETRAIN_TRAIN,
    TRAIN_OPTIONS,
    FeatureConfig,
    TrainConfig,
    with_options,
)
from .._scheduler import SCHEDULER_HELP

__all__ = ["register"]

console = Console()


@with_options(TrainConfig, TRAIN_OPTIONS, after="strategy")
def train_command(
    cohort: Annotated[Path, typer.Argument(help="Cohort folder.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder to write, e.g. runs/threshold-60.")],
    strategy: Annotated[str, typer.Option(
        help="Label strategy: threshold:T, soft, weighted:T or ignore:LO-HI, optionally @mean|@max|"
             "@majority|@staple (e.g. threshold:60@staple).")] = "threshold:60",
    init: Annotated[Path | None, typer.Option("--init", help="Fine-tune from this checkpoint: a model.pt, a "
                                              "run folder or a `lusfeat pretrain` folder (same classes; "
                                              "its network and input size).")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing run folder.")] = False,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show progress bars.")] = True,
    **options: Any,
) -> None:
    """Train U-Nets under a label strategy (resumes an interrupted run of the same command).

    Data-parallel under torchrun (DistributedDataParallel; --batch-size stays the global batch).

    Examples:

      lusfeat train cohort --out runs/t60 --strategy threshold:60 --folds 3 --epochs 10

      lusfeat train cohort --out runs/soft --strategy soft --size 64 --threads 1 --no-progress

      lusfeat train real_cohort --out runs/tuned --init pretrained --epochs 10 --lr 3e-3

      torchrun --nproc-per-node 2 -m lusfeat train cohort --out runs/t60 --folds 3 --device cuda
    """
    from ..labels import parse_strategy
    from ..seg import train

    config = TrainConfig(**options)  # the options of TRAIN_OPTIONS, checked
    run = train(cohort, out, parse_strategy(strategy), **config.train_kwargs(init), progress=progress,
                overwrite=overwrite)
    if os.environ.get("RANK", "0") == "0":  # under torchrun only rank 0 reports
        console.print(f"run written to [bold]{run}[/]")


@with_options(FeatureConfig, ("backend",), after="features")
def segment_command(
    cohort: Annotated[Path, typer.Argument(help="Cohort folder.")],
    run: Annotated[Path, typer.Argument(help="Run folder written by `lusfeat train`.")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Mask set folder (default: RUN/masks).")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
    batch_size: Annotated[int, typer.Option(help="Frames per forward pass.")] = 64,
    threads: Annotated[int | None, typer.Option(help="CPU threads for torch.")] = None,
    compile: Annotated[bool, typer.Option("--compile/--no-compile", help="torch.compile the networks.")] = False,
    scheduler: Annotated[str | None, typer.Option(help=SCHEDULER_HELP)] = None,
    features: Annotated[Path | None, typer.Option(
        "--features", help="Also write the feature tables of the predicted masks to this folder "
                           "(computed from the masks in memory; on CUDA they stay on the GPU).")] = None,
    allow_foreign: Annotated[bool, typer.Option(
        "--allow-foreign", help="Apply a run trained on another cohort (masks marked foreign, not out of fold).")] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing mask set (and --features folder).")] = False,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show progress bars.")] = True,
    **options: Any,
) -> None:
    """Predict masks and probabilities for every frame (out-of-fold for cross-fitted runs).

    Examples:

      lusfeat segment cohort runs/t60 --out masks/t60

      lusfeat segment cohort runs/t60 --out masks/t60 --scheduler local:2 --threads 1

      lusfeat segment cohort runs/t60 --out masks/t60 --features features/t60

      lusfeat segment new-cohort runs/t60 --out masks/new --allow-foreign
    """
    from ..data import open_masks
    from ..pipeline._handoff import segment_with_features

    dest = out if out is not None else run / "masks"
    path = segment_with_features(cohort, run, dest, features, device=device, batch_size=batch_size,
                                 threads=threads, compile=compile, scheduler=scheduler,
                                 backend=FeatureConfig(**options).backend,
                                 allow_foreign=allow_foreign, progress=progress, overwrite=overwrite)
    fps = open_masks(path).meta.get("frames_per_second")
    console.print(f"masks written to [bold]{path}[/] ({fps:.1f} frames/s)")
    if features is not None:
        console.print(f"features written to [bold]{features}[/]")


def evaluate_command(
    cohort: Annotated[Path, typer.Argument(help="Cohort folder.")],
    masks: Annotated[Path, typer.Argument(help="Mask set folder (from `lusfeat segment`).")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Folder for the Parquet tables and "
                                                                  "evaluation.json (default: MASKS/evaluation).")] = None,
    bootstrap: Annotated[int, typer.Option(help="Patient-level bootstrap draws for 95% CIs.")] = 1000,
    fusion: Annotated[str, typer.Option(help="Annotator fusion of the confidence references.")] = "mean",
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
    allow_foreign: Annotated[bool, typer.Option(
        "--allow-foreign", help="Evaluate masks made for another cohort (recorded as foreign).")] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing output folder.")] = False,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show progress bars.")] = True,
) -> None:
    """Dice, IoU, precision, recall and HD95 against truth and confidence references; calibration.

    Examples:

      lusfeat evaluate cohort masks/t60

      lusfeat evaluate cohort masks/t60 --out eval/t60 --bootstrap 200 --overwrite
    """
    from ..seg import evaluate

    dest = out if out is not None else masks / "evaluation"
    result = evaluate(cohort, masks, dest, fusion=fusion, bootstrap=bootstrap, seed=seed,
                      allow_foreign=allow_foreign, progress=progress, overwrite=overwrite)
    console.print(result.summary().as_text(), highlight=False, markup=False)
    console.print(f"evaluation written to [bold]{dest}[/]")


@with_options(TrainConfig, PRETRAIN_OPTIONS, after="strategy",
              defaults={n: getattr(PRETRAIN_TRAIN, n) for n in PRETRAIN_OPTIONS}, helps=NO_INIT_HELPS)
def pretrain_command(
    out: Annotated[Path, typer.Argument(help="Folder to write: the simulated cohort, the run and model.pt.")],
    patients: Annotated[int, typer.Option(help="Simulated patients (2-3 exams x 6 zones each).")] = 120,
    frames: Annotated[int, typer.Option(help="Frames per simulated clip.")] = 2,
    size: Annotated[int, typer.Option(help="Frame side in pixels, also the training size.")] = 128,
    probe: Annotated[str, typer.Option(help="linear, convex or mixed.")] = "mixed",
    strategy: Annotated[str, typer.Option(help="Label strategy applied to the simulated confidence.")]
        = "threshold:60",
    seed: Annotated[int, typer.Option(help="Seed of the simulator and the training.")] = 0,
    members: Annotated[int, typer.Option(help="Networks to pretrain, member k with seed SEED + k (its own "
                                              "simulated cohort); two or more also make the ensemble run "
                                              "OUT/ensemble.")] = 1,
    overwrite: Annotated[bool, typer.Option(help="Redo a finished folder.")] = False,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show progress bars.")] = True,
    **options: Any,
) -> None:
    """Train a U-Net on a large simulated cohort: a starting point for `lusfeat train --init`.

    Resumable: rerunning the same command continues where it stopped.

    Examples:

      lusfeat pretrain pretrained --patients 120 --epochs 10

      lusfeat pretrain pretrained3 --patients 60 --epochs 8 --members 3

      lusfeat train my_cohort --out runs/tuned --init pretrained

      lusfeat segment real_cohort pretrained3/ensemble --out masks/real --allow-foreign
    """
    from ..labels import parse_strategy
    from ..seg import UNetConfig, pretrain

    model = UNetConfig(depth=options.pop("depth"), width=options.pop("width"))
    path = pretrain(out, patients=patients, frames=frames, size=size, probe=probe,
                    strategy=parse_strategy(strategy), model=model, seed=seed, members=members,
                    progress=progress, overwrite=overwrite, **options)
    if (path / "ensemble" / "run.json").is_file():
        console.print(f"ensemble of pretrained U-Nets written to [bold]{path / 'ensemble'}[/] (apply it with "
                      f"`lusfeat segment COHORT {path / 'ensemble'}`; fine-tune member 0 with --init {path})")
    else:
        console.print(f"pretrained U-Net written to [bold]{path / 'model.pt'}[/] (fine-tune with --init {path})")


def ensemble_command(
    out: Annotated[Path, typer.Argument(help="Ensemble run folder to write.")],
    members: Annotated[list[Path], typer.Argument(help="Two or more single-model run folders or `lusfeat "
                                                       "pretrain` folders (same classes and label strategy).")],
    overwrite: Annotated[bool, typer.Option(help="Replace an existing ensemble folder.")] = False,
) -> None:
    """Combine trained U-Nets into one run whose prediction is the mean of their probabilities.

    Networks of one recipe with other seeds differ most on frames unlike their
    training data; their mean is steadier. Apply the result with `lusfeat segment`.

    Examples:

      lusfeat ensemble runs/ens pre_s0 pre_s1 pre_s2

      lusfeat segment real_cohort runs/ens --out masks/ens --allow-foreign
    """
    from ..seg import ensemble

    path = ensemble(members, out, overwrite=overwrite)
    console.print(f"ensemble of {len(members)} networks written to [bold]{path}[/]")


def register(app: typer.Typer) -> None:
    """Add the segmentation commands to the lusfeat app."""
    app.command("pretrain")(pretrain_command)
    app.command("ensemble")(ensemble_command)
    app.command("train")(train_command)
    app.command("segment")(segment_command)
    app.command("evaluate")(evaluate_command)
