"""Train U-Nets under a label strategy, optionally cross-fitted over patient folds.

A run folder::

    RUN/
      run.json            what made it: strategy, model config, options, seed, device,
                          cohort path and fingerprint, versions, per-fold results
      folds.parquet       patient_id -> fold (the model whose predictions the patient gets;
                          with --folds K >= 2 that model never saw the patient)
      splits.parquet      model, patient_id, role (train / val / test) for every model
      fold-0/model.pt     best checkpoint of model 0 (see lusfeat.seg._checkpoint)
      fold-0/history.parquet  per epoch: train loss/Dice, validation loss/Dice, lr, seconds
      fold-1/...          one folder per fold

While training, the run lives in a hidden sibling ``.RUN.partial/`` holding a
``last.pt`` per unfinished fold (weights, optimiser, epoch, history); running
the same command again resumes there. The folder is renamed to ``RUN`` only
when every fold is done.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import logging
import math
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from .._config import TrainConfig
from .._errors import InputError
from .._io import discard_on_error, fingerprint, read_json, write_json, write_parquet
from .._progress import progress_bar
from ..data import open_cohort
from ..labels import Strategy, parse_strategy
from ._augment import augment
from ._checkpoint import load_checkpoint, load_init, save_checkpoint
from ._data import FrameData, load_frames
from ._ddp import DistContext, context_from_env, distributed_run
from ._device import autocast, resolve_device, thread_limit, versions
from ._folds import assign_folds, make_splits
from ._loss import DiceCounter, seg_loss
from ._unet import UNet, UNetConfig

__all__ = ["train", "RUN_FORMAT", "normalise_size"]

logger = logging.getLogger(__name__)

RUN_FORMAT = "lusfeat-run"
RUN_VERSION = 1
WARMUP_FRACTION = 0.05


def normalise_size(size: int | tuple[int, int] | None, frame_size: tuple[int, int]) -> tuple[int, int]:
    """``None`` -> the frame size; ``S`` -> ``(S, S)``; ``(H, W)`` kept. Sizes must be >= 8."""
    if size is None:
        return tuple(int(s) for s in frame_size)
    out = (int(size), int(size)) if np.isscalar(size) else tuple(int(s) for s in size)
    if len(out) != 2 or min(out) < 8:
        raise InputError(f"size must be an integer >= 8 or a pair (H, W) of them, got {size!r}")
    return out


def _lr_at(step: int, total: int, base: float) -> float:
    """Linear warm-up over the first 5 % of steps, then cosine decay to 0."""
    warm = max(1, int(WARMUP_FRACTION * total))
    if step < warm:
        return base * (step + 1) / warm
    t = (step - warm) / max(1, total - warm)
    return base * 0.5 * (1.0 + math.cos(math.pi * min(1.0, t)))


# Over 80 lines only through its docstring (every option of the public entry point); the
# body is the short sequence of named steps below.
def train(
    cohort: Any,
    out: str | os.PathLike,
    strategy: str | Strategy = "threshold:60",
    *,
    folds: int = 1,
    epochs: int = 30,
    device: str = "auto",
    size: int | tuple[int, int] | None = None,
    seed: int = 0,
    model: UNetConfig | None = None,
    batch_size: int = 8,
    lr: float = 1e-2,
    weight_decay: float = 1e-4,
    val_fraction: float = 0.15,
    dice_weight: float = 1.0,
    augmentation: bool = True,
    frames: np.ndarray | list[int] | None = None,
    init: str | os.PathLike | None = None,
    threads: int | None = None,
    compile: bool = False,
    ignore_classes: Sequence[str] = (),
    resume: bool = True,
    progress: bool = True,
    overwrite: bool = False,
) -> Path:
    """Train one U-Net per fold under a label strategy and write a run folder.

    The training options are those of :class:`lusfeat.seg.TrainConfig` (same
    names, defaults and checks); ``train(cohort, out, strategy,
    **config.train_kwargs())`` trains with a config.

    Parameters
    ----------
    cohort : Cohort or path-like
        The cohort (see :func:`lusfeat.data.open_cohort`).
    out : path-like
        Run folder to write (layout in the module docstring).
    strategy : str or Strategy
        Label strategy, e.g. ``"threshold:60"``, ``"soft"``, ``"ignore:40-60@staple"``
        (see :func:`lusfeat.labels.parse_strategy`).
    folds : int
        ``1`` trains one model on all patients (minus validation patients).
        ``K >= 2`` cross-fits: model ``k`` trains without the patients of fold ``k``,
        so that :func:`segment` gives every frame an out-of-fold prediction.
    epochs : int
        Passes over each model's training frames.
    device : {"auto", "cpu", "cuda", "cuda:N"}
        ``auto`` uses CUDA when available. On CUDA training uses bf16 autocast
        and channels_last with all data on the GPU; on the CPU it is fp32.
    size : int or (int, int), optional
        Train at this size: frames and targets are resized on the fly (bilinear,
        antialiased); :func:`segment` resizes predictions back. Default: frame size.
    seed : int
        Seeds folds, validation split, initial weights, shuffling and augmentation.
        Results are reproducible on the CPU, including across a resume.
    model : UNetConfig, optional
        Network size; default ``UNetConfig()`` (4 poolings, 16 channels).
    batch_size : int
        Frames per optimisation step.
    lr, weight_decay : float
        AdamW learning rate (peak of the cosine schedule, 5 % linear warm-up) and decay.
    val_fraction : float
        Fraction of each model's training patients held out to pick the best
        epoch (by validation Dice); 0 keeps the last epoch.
    dice_weight : float
        Weight of the soft Dice term of the loss (see :func:`lusfeat.seg.seg_loss`).
    augmentation : bool
        Horizontal flips, gain/contrast, small shifts and scaling (never vertical flips).
    frames : sequence of int, optional
        Train on these cohort array indices only (folds still cover all patients).
    init : path-like, optional
        Fine-tune: start every fold from the weights of this checkpoint (a
        ``model.pt``, a run folder or a :func:`lusfeat.seg.pretrain` folder)
        instead of a random initialisation. Its classes must be the cohort's;
        ``model`` and ``size`` default to the checkpoint's and must match it
        when given. Input normalisation is re-estimated on the new training
        frames (BatchNorm statistics adapt as the network trains). The
        checkpoint's path and digest are recorded in ``run.json`` and are part
        of the run's fingerprint.
    threads : int, optional
        ``torch.set_num_threads`` for the call (restored afterwards).
    compile : bool
        Wrap the network in ``torch.compile`` (useful on CUDA).
    ignore_classes : sequence of str
        Classes the annotators did not draw, which would otherwise be trained as
        absent everywhere. From scratch they are left out of the loss; with
        ``init`` their targets are the checkpoint's own probabilities on the
        training frames (learning without forgetting), so the network keeps what
        it knew of them. A class that no frame labels positive and that is not
        named here is trained as absent, with a warning.
    resume : bool
        Continue an interrupted run of the same command from its ``.partial`` folder.
    progress : bool
        Show rich progress bars.
    overwrite : bool
        Replace an existing ``out``.

    Returns
    -------
    Path
        The run folder.

    Raises
    ------
    InputError
        For invalid options, an existing ``out`` without ``overwrite``, or a fold
        without training frames.

    Notes
    -----
    Under ``torchrun --nproc-per-node G -m lusfeat train ...`` the call is
    data-parallel (DistributedDataParallel; ``gloo`` on the CPU, ``nccl`` and
    one GPU per process on CUDA): ``batch_size`` stays the *global* batch, every
    rank draws the same permutation of the training frames and the same
    augmentation and trains on its share (rows ``rank::G``); the averaged
    gradients make the loss curve follow the single-process one (BatchNorm
    statistics are per rank, so it agrees within noise rather than exactly).
    Rank 0 writes the checkpoints, tables and logs; resuming works as in one
    process. ``G`` is part of the run's fingerprint.

    Examples
    --------
    >>> run = train("cohort", "runs/t60", "threshold:60", folds=3, epochs=3, size=64,
    ...             model=UNetConfig(depth=3, width=8))  # doctest: +SKIP
    """
    t_start = time.perf_counter()
    TrainConfig(folds=folds, epochs=epochs, device=device, size=size, seed=seed, batch_size=batch_size, lr=lr,
                weight_decay=weight_decay, val_fraction=val_fraction, dice_weight=dice_weight,
                augmentation=augmentation, threads=threads, compile=compile,
                ignore_classes=tuple(ignore_classes))  # checks every option
    cohort = open_cohort(cohort) if isinstance(cohort, (str, os.PathLike)) else cohort
    cohort.require_labels("train")
    ignored = _ignored_classes(ignore_classes, cohort.class_names)
    strat = parse_strategy(strategy)
    dev = resolve_device(device)
    ctx = context_from_env()
    n_classes = len(cohort.class_names)
    init_state, init_meta = None, None
    if init is not None:
        init_size = None if size is None else normalise_size(size, cohort.shape)
        init_state, init_meta, _ = load_init(init, list(cohort.class_names), model, init_size)
        model = UNetConfig.from_dict(init_meta["model"])
        size = tuple(init_meta["input_size"])
    cfg = model if model is not None else UNetConfig(out_channels=n_classes)
    if not isinstance(cfg, UNetConfig):
        raise InputError(f"model must be a UNetConfig, got {type(cfg).__name__}")
    if cfg.out_channels != n_classes or cfg.in_channels != 1:
        raise InputError(
            f"model config has {cfg.in_channels} input / {cfg.out_channels} output channels; "
            f"this cohort needs 1 / {n_classes}"
        )
    input_size = normalise_size(size, cohort.shape)
    indices = _frame_indices(frames, cohort.n_frames)
    out = Path(out)
    if out.exists() and not overwrite:
        raise InputError(f"run folder {out} already exists; choose another --out or pass --overwrite")

    options = {
        "strategy": strat.spec, "folds": int(folds), "epochs": int(epochs), "size": list(input_size),
        "seed": int(seed), "model": cfg.to_dict(), "batch_size": int(batch_size), "lr": float(lr),
        "weight_decay": float(weight_decay), "val_fraction": float(val_fraction),
        "dice_weight": float(dice_weight), "augmentation": bool(augmentation),
        "frames": None if frames is None else fingerprint(indices), "compile": bool(compile),
        "ignore_classes": [cohort.class_names[c] for c in ignored],
    }
    if init_meta is not None:  # only then, so runs from scratch keep their fingerprints
        options["init"] = {"path": init_meta["path"], "digest": init_meta["digest"]}
    if ctx is not None:  # likewise: single-process runs keep theirs
        options["world_size"] = ctx.world
    with distributed_run(ctx, dev) as dev:
        return _train_folds(cohort, out, strat, cfg, options, input_size, indices, dev, ctx, init_state, init_meta,
                            threads, resume, progress, t_start)


def _train_folds(
    cohort: Any, out: Path, strat: Strategy, cfg: UNetConfig, options: dict[str, Any], input_size: tuple[int, int],
    indices: np.ndarray, dev: torch.device, ctx: DistContext | None, init_state: dict[str, torch.Tensor] | None,
    init_meta: dict[str, Any] | None, threads: int | None, resume: bool, progress: bool, t_start: float,
) -> Path:
    """Train every fold in the partial folder and rename it to ``out`` (rank 0 writes)."""
    main = ctx is None or ctx.main
    folds, seed = options["folds"], options["seed"]
    data_fp = cohort.fingerprint
    options_fp = fingerprint(options, data_fp, str(dev.type))
    partial = out.parent / f".{out.name}.partial"
    fold_table = assign_folds(cohort.frames["patient_id"].to_numpy(), int(folds), int(seed))
    splits = make_splits(fold_table, int(folds), float(options["val_fraction"]), int(seed))
    if main:
        _prepare_partial(partial, options, options_fp, resume, fold_table, splits)
    if ctx is not None:
        ctx.barrier()

    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    base_meta = {
        "strategy": strat.spec, "class_names": list(cohort.class_names), "input_size": list(input_size),
        "frame_size": list(cohort.shape), "data_fingerprint": data_fp, "versions": versions(),
        "init": init_meta,
    }
    # a handled error (bad frames, an empty fold) discards the partial run; a kill or
    # Ctrl-C keeps it so that the same command resumes
    guard = discard_on_error(partial) if main else contextlib.nullcontext()
    with guard, thread_limit(threads), progress_bar(*columns, enabled=progress and main) as bar:
        task = bar.add_task("loading frames", total=int(indices.size))
        data = load_frames(cohort, indices, strat, input_size, progress=lambda n: bar.advance(task, n))
        bar.remove_task(task)
        _leave_out(data, options["ignore_classes"], list(cohort.class_names), strat.spec,
                   None if init_state is None else (init_state, cfg, init_meta["normalisation"], dev))
        data = FrameData(data.indices, data.images.to(dev), data.target.to(dev), data.weight.to(dev))
        patient_of_row = cohort.frames["patient_id"].astype(str).to_numpy()[indices]
        results = []
        for k in range(int(folds)):
            roles = splits[splits["model"] == k].set_index("patient_id")["role"]
            role_of_row = roles.reindex(patient_of_row).to_numpy()
            fold_dir = partial / f"fold-{k}"
            done = fold_dir / "done.json"
            if done.exists():
                results.append(read_json(done))
                continue
            fold_meta = dict(base_meta, **{
                f"{role}_patients": sorted(roles.index[roles == role].tolist()) for role in ("train", "val", "test")
            })
            res = _fit_fold(
                k, data, np.flatnonzero(role_of_row == "train"), np.flatnonzero(role_of_row == "val"),
                cfg, options, fold_meta, fold_dir, dev, bar, init_state, ctx,
            )
            if main:
                write_json(done, res)
            results.append(res)
    if not main:
        ctx.barrier()  # rank 0 renames the run into place
        return out

    _publish_run(cohort, out, partial, strat, cfg, options, options_fp, input_size, dev, ctx, threads, results,
                 init_meta, t_start)
    return out


def _publish_run(cohort: Any, out: Path, partial: Path, strat: Strategy, cfg: UNetConfig, options: dict[str, Any],
                 options_fp: str, input_size: tuple[int, int], dev: torch.device, ctx: DistContext | None,
                 threads: int | None, results: list[dict[str, Any]], init_meta: dict[str, Any] | None,
                 t_start: float) -> None:
    """Write ``run.json``, drop the resume markers and rename the partial folder to ``out`` (rank 0)."""
    folds = int(options["folds"])
    meta = {
        "format": RUN_FORMAT, "format_version": RUN_VERSION, "strategy": strat.spec,
        "strategy_name": strat.name, "folds": folds, "cross_fitted": folds > 1,
        "model": cfg.to_dict(), "input_size": list(input_size), "frame_size": list(cohort.shape),
        "class_names": list(cohort.class_names), "options": options, "seed": int(options["seed"]),
        "device": str(dev), "threads": threads, "world_size": 1 if ctx is None else ctx.world,
        "cohort": {"path": str(cohort.path), "fingerprint": cohort.fingerprint},
        "fingerprint": options_fp, "versions": versions(), "fold_results": results, "init": init_meta,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "elapsed_s": round(time.perf_counter() - t_start, 3), "producer": "lusfeat.seg.train",
    }
    write_json(partial / "run.json", meta)
    (partial / "options.json").unlink()
    for k in range(folds):
        (partial / f"fold-{k}" / "done.json").unlink(missing_ok=True)
    if out.exists():
        trash = out.parent / f".{out.name}.old-{os.getpid()}"
        os.replace(out, trash)
        shutil.rmtree(trash, ignore_errors=True)
    os.replace(partial, out)
    logger.info("trained %d model(s) under %s in %.1f s -> %s", folds, strat.spec, meta["elapsed_s"], out)
    if ctx is not None:
        ctx.barrier()


def _prepare_partial(partial: Path, options: dict[str, Any], options_fp: str, resume: bool,
                     fold_table: pd.DataFrame, splits: pd.DataFrame) -> None:
    """Reuse the partial folder of the same command, or start it afresh."""
    state_file = partial / "options.json"
    if partial.exists():
        old = read_json(state_file) if state_file.exists() else {}
        if resume and old.get("fingerprint") == options_fp:
            logger.info("resuming the interrupted run in %s", partial)
        else:
            logger.info("discarding stale partial run %s", partial)
            shutil.rmtree(partial)
    partial.mkdir(parents=True, exist_ok=True)
    write_json(state_file, {"fingerprint": options_fp, "options": options})
    write_parquet(fold_table, partial / "folds.parquet")
    write_parquet(splits, partial / "splits.parquet")


def _frame_indices(frames: Any, n: int) -> np.ndarray:
    if frames is None:
        return np.arange(n, dtype=np.int64)
    idx = np.unique(np.asarray(frames, dtype=np.int64))
    if idx.size == 0 or idx[0] < 0 or idx[-1] >= n:
        raise InputError(f"frames must be non-empty array indices in 0..{n - 1}; got {np.asarray(frames)[:5]}...")
    return idx


def _ignored_classes(names: Sequence[str], class_names: Sequence[str]) -> list[int]:
    """Indices of the classes of ``--ignore-class`` (each named once, known to the cohort)."""
    unknown = [n for n in names if n not in class_names]
    if unknown:
        raise InputError(f"--ignore-class {unknown[0]}: not a class of this cohort; use one of {list(class_names)}")
    return sorted({list(class_names).index(n) for n in names})


def _leave_out(data: FrameData, ignore: Sequence[str], class_names: list[str], strategy: str,
               teacher: tuple[dict[str, torch.Tensor], UNetConfig, dict[str, float], torch.device] | None) -> None:
    """Handle the classes named in ``ignore`` (in place) and warn about classes that no frame
    labels positive (the network would learn them as absent everywhere).

    From scratch an ignored class is left out of the loss (weight 0). When fine-tuning
    (``teacher``: the ``--init`` weights, network, normalisation and device), its
    targets become the ``--init`` network's own probabilities on the same frames, with
    full weight: learning without forgetting (Li & Hoiem, 2016). Left out of the loss
    instead, its output would drift as the shared layers adapt to the other classes.
    """
    ignored = [class_names.index(n) for n in ignore]
    positive = (data.target.amax(dim=(0, 2, 3)) > 0).tolist() if data.target.numel() else []
    if ignored and teacher is not None:
        _distil(data, ignored, *teacher)
    elif ignored:
        data.weight[:, ignored] = 0
    fine_tune = teacher is not None
    empty = [class_names[c] for c, p in enumerate(positive) if not p and c not in ignored]
    if empty:
        them = "them" if len(empty) > 1 else "it"
        logger.warning(
            "train: no frame has a %s pixel under %s, so the network learns %s as absent everywhere%s; if "
            "your annotators did not draw %s, pass --ignore-class for each", " or ".join(empty), strategy,
            them, f" (and forgets what --init knew of {them})" if fine_tune else "", them)


@torch.no_grad()
def _distil(data: FrameData, classes: list[int], state: dict[str, torch.Tensor], cfg: UNetConfig,
            norm: dict[str, float], dev: torch.device, batch: int = 32) -> None:
    """Targets of ``classes`` := the probabilities of the network ``state`` on the frames (in place)."""
    net = UNet(cfg)
    net.load_state_dict(state)
    net = net.to(dev).eval()
    mean, std = float(norm.get("mean", 0.0)), float(norm.get("std", 1.0))
    for start in range(0, data.images.shape[0], batch):
        x = data.images[start : start + batch].to(dev).float().div_(255.0)
        p = torch.sigmoid(net((x - mean) / std).float())[:, classes].cpu()
        data.target[start : start + batch, classes] = p.mul_(255.0).round_().clamp_(0, 255).to(torch.uint8)
    data.weight[:, classes] = 255


def _batches(x: FrameData, rows: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Images, targets and weights of ``rows`` as float tensors in 0..1."""
    img = x.images[rows].float().div_(255.0)
    return img, x.target[rows].float().div_(255.0), x.weight[rows].float().div_(255.0)


@dataclass
class _Fold:
    """What the epochs of one model share."""

    k: int
    data: FrameData
    train_t: torch.Tensor
    val_rows: np.ndarray
    options: dict[str, Any]
    net: torch.nn.Module
    opt: torch.optim.Optimizer
    step_fn: Any
    eval_fn: Any
    mean: float
    std: float
    steps_per_epoch: int
    dev: torch.device
    ctx: DistContext | None
    bar: Any
    task: Any

    @property
    def main(self) -> bool:
        return self.ctx is None or self.ctx.main


def _fit_fold(
    k: int, data: FrameData, train_rows: np.ndarray, val_rows: np.ndarray, cfg: UNetConfig,
    options: dict[str, Any], base_meta: dict[str, Any], fold_dir: Path, dev: torch.device, bar: Any,
    init_state: dict[str, torch.Tensor] | None = None, ctx: DistContext | None = None,
) -> dict[str, Any]:
    """Train model ``k`` (from ``init_state`` when given); save best and last checkpoints
    in ``fold_dir`` (rank 0 only under ``ctx``); return its metrics."""
    if train_rows.size == 0:
        raise InputError(
            f"fold {k} has no training frames (too few patients or frames selected); "
            "use fewer --folds, a lower --val-fraction or more frames"
        )
    fold_dir.mkdir(parents=True, exist_ok=True)
    epochs = options["epochs"]
    net, mean, std = _new_model(k, data, train_rows, cfg, options["seed"], init_state, dev)
    opt = torch.optim.AdamW(net.parameters(), lr=options["lr"], weight_decay=options["weight_decay"])
    last = fold_dir / "last.pt"
    start_epoch, best, history = _resume_fold(last, net, opt, k, ctx is None or ctx.main)
    f = _fold_run(k, data, train_rows, val_rows, options, net, opt, mean, std, dev, ctx, bar, start_epoch)
    meta = dict(base_meta, fold=k, normalisation={"mean": mean, "std": std})
    for epoch in range(start_epoch, epochs):
        row = _run_epoch(f, epoch)
        history.append(row)
        bar.update(f.task, description=(f"fold {k} epoch {epoch + 1}/{epochs} loss {row['train_loss']:.3f} "
                                        f"dice {row['train_dice']:.3f} val {row['val_dice']:.3f}"))
        best = _keep_checkpoints(f, epoch, row, best, history, fold_dir, meta)
    bar.remove_task(f.task)
    return _finish_fold(f, best, history, fold_dir)


def _new_model(k: int, data: FrameData, train_rows: np.ndarray, cfg: UNetConfig, seed: int,
               init_state: dict[str, torch.Tensor] | None, dev: torch.device) -> tuple[torch.nn.Module, float, float]:
    """Model ``k`` with seeded (or ``init_state``) weights on ``dev``, and the training frames' mean and std."""
    imgs = data.images[torch.as_tensor(train_rows, device=data.images.device)].float().div_(255.0)
    mean, std = float(imgs.mean()), float(imgs.std().clamp_min(1e-3))
    del imgs
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed * 1_000_003 + k)
        net = UNet(cfg)
    if init_state is not None:
        net.load_state_dict(init_state)
    net = net.to(dev).to(memory_format=torch.channels_last)  # faster with oneDNN and cuDNN alike
    return net, mean, std


def _resume_fold(last: Path, net: torch.nn.Module, opt: torch.optim.Optimizer, k: int,
                 main: bool) -> tuple[int, dict[str, Any], list[dict[str, Any]]]:
    """First epoch, best so far and history: from ``last`` (an interrupted fold) or fresh."""
    if not last.exists():
        return 0, {"epoch": -1, "val_dice": -1.0, "val_loss": math.inf}, []
    ck = load_checkpoint(last)
    net.load_state_dict(ck["state_dict"])
    opt.load_state_dict(ck["optimizer"])
    if main:
        logger.info("fold %d: resuming at epoch %d", k, int(ck["epoch"]) + 1)
    return int(ck["epoch"]) + 1, dict(ck["best"]), list(ck["history"])


def _fold_run(k: int, data: FrameData, train_rows: np.ndarray, val_rows: np.ndarray, options: dict[str, Any],
              net: torch.nn.Module, opt: torch.optim.Optimizer, mean: float, std: float, dev: torch.device,
              ctx: DistContext | None, bar: Any, start_epoch: int) -> _Fold:
    """The shared state of the epochs: wrapped and compiled network, steps, progress task."""
    n_train, bs = train_rows.size, options["batch_size"]
    steps_per_epoch = max(1, n_train // bs if n_train % bs == 1 else math.ceil(n_train / bs))
    model = net if ctx is None else _data_parallel(net, dev)
    step_fn = torch.compile(model) if options["compile"] else model
    eval_fn = step_fn if ctx is None else net  # rank 0 validates with its own BatchNorm statistics
    task = bar.add_task(f"fold {k}", total=options["epochs"] * steps_per_epoch,
                        completed=start_epoch * steps_per_epoch)
    return _Fold(k, data, torch.as_tensor(train_rows, device=dev), val_rows, options, net, opt, step_fn, eval_fn,
                 mean, std, steps_per_epoch, dev, ctx, bar, task)


def _run_epoch(f: _Fold, epoch: int) -> dict[str, Any]:
    """One epoch of optimisation, then validation (rank 0): the epoch's history row."""
    t0 = time.perf_counter()
    o, dev, ctx, n_train = f.options, f.dev, f.ctx, f.train_t.numel()
    bs, epochs, spe = o["batch_size"], o["epochs"], f.steps_per_epoch
    epoch_seed = int(o["seed"]) * 7919 + f.k * 104_729 + epoch
    perm = f.train_t[torch.randperm(n_train, generator=torch.Generator().manual_seed(epoch_seed)).to(dev)]
    gen = torch.Generator(device=dev).manual_seed(epoch_seed)  # augmentation draws stay on the device
    sync_every = 1 if dev.type == "cpu" else 25
    f.net.train()
    loss_sum, counter = torch.zeros((), device=dev), DiceCounter()
    for s in range(spe):
        rows = perm[s * bs : (s + 1) * bs] if s < spe - 1 else perm[s * bs :]
        logits, t, w, loss = _step(f, rows, gen, epoch * spe + s, spe * epochs)
        loss_sum += loss.detach()
        counter.update(logits.detach(), t, w)
        if (s + 1) % sync_every == 0 or s == spe - 1:
            f.bar.update(f.task, advance=sync_every if (s + 1) % sync_every == 0 else (s + 1) % sync_every,
                         description=f"fold {f.k} epoch {epoch + 1}/{epochs} loss {float(loss_sum) / (s + 1):.3f}")
    if ctx is not None:
        loss_sum, counter.inter, counter.total = ctx.mean(loss_sum), ctx.total(counter.inter), ctx.total(counter.total)
    row = {"epoch": epoch, "train_loss": float(loss_sum) / spe, "train_dice": counter.dice(),
           "lr": f.opt.param_groups[0]["lr"]}
    val = _validate(f.eval_fn, f.data, f.val_rows, f.mean, f.std, bs, dev, o["dice_weight"]) if f.main else None
    row.update(val if ctx is None else ctx.broadcast(val))
    row["seconds"] = time.perf_counter() - t0
    return row


def _step(f: _Fold, rows: torch.Tensor, gen: torch.Generator, step: int,
          total_steps: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """One optimiser step on the global batch ``rows`` (this rank's share under DDP)."""
    x, t, w = _batches(f.data, rows)
    if f.options["augmentation"]:
        x, t, w = augment(x, t, w, gen)  # on the global batch: every rank draws the same
    if f.ctx is not None:
        mine = f.ctx.share(torch.arange(rows.numel(), device=f.dev))
        x, t, w = x[mine], t[mine], w[mine]
    x = ((x - f.mean) / f.std).contiguous(memory_format=torch.channels_last)
    for g in f.opt.param_groups:
        g["lr"] = _lr_at(step, total_steps, f.options["lr"])
    with autocast(f.dev):
        logits = f.step_fn(x)
    loss = seg_loss(logits, t, w, f.options["dice_weight"])
    f.opt.zero_grad(set_to_none=True)
    loss.backward()
    f.opt.step()
    return logits, t, w, loss


def _keep_checkpoints(f: _Fold, epoch: int, row: dict[str, Any], best: dict[str, Any],
                      history: list[dict[str, Any]], fold_dir: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """Save the best (``model.pt``) and last (``last.pt``) checkpoints (rank 0); the new best."""
    score = row["val_dice"] if f.val_rows.size else float(epoch)
    improved = score > best["val_dice"] or (score == best["val_dice"] and row["val_loss"] < best["val_loss"])
    if improved:
        best = {"epoch": epoch, "val_dice": score, "val_loss": row["val_loss"]}
    if f.main:
        if improved:
            save_checkpoint(fold_dir / "model.pt", f.net, epoch=epoch, metrics=_plain(row), **meta)
        save_checkpoint(fold_dir / "last.pt", f.net, epoch=epoch, optimizer=f.opt.state_dict(), best=best,
                        history=[_plain(h) for h in history], **meta)
    return best


def _finish_fold(f: _Fold, best: dict[str, Any], history: list[dict[str, Any]], fold_dir: Path) -> dict[str, Any]:
    """Write the history (rank 0), drop ``last.pt``; the fold's metrics."""
    final = history[best["epoch"]] if best["epoch"] >= 0 else history[-1]
    if f.main:
        write_parquet(pd.DataFrame(history), fold_dir / "history.parquet")
        (fold_dir / "last.pt").unlink(missing_ok=True)
        logger.info("fold %d: best epoch %d, validation Dice %.3f", f.k, best["epoch"] + 1, final["val_dice"])
    else:
        f.ctx.barrier()  # wait until rank 0 saved, so a resume never sees a fold half-written
    if f.ctx is not None and f.main:
        f.ctx.barrier()
    return {
        "fold": f.k, "best_epoch": int(best["epoch"]), "val_dice": final["val_dice"], "val_loss": final["val_loss"],
        "train_dice": final["train_dice"], "train_frames": int(f.train_t.numel()),
        "val_frames": int(f.val_rows.size), "normalisation": {"mean": f.mean, "std": f.std},
        "seconds": float(sum(h["seconds"] for h in history)),
    }


def _data_parallel(net: torch.nn.Module, dev: torch.device) -> torch.nn.Module:
    """``net`` wrapped in DistributedDataParallel (one device per process on CUDA)."""
    from torch.nn.parallel import DistributedDataParallel

    if dev.type == "cuda":
        return DistributedDataParallel(net, device_ids=[dev.index], output_device=dev.index)
    return DistributedDataParallel(net)


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (float(v) if isinstance(v, (float, np.floating)) else v) for k, v in row.items()}


@torch.no_grad()
def _validate(
    net: torch.nn.Module, data: FrameData, rows: np.ndarray, mean: float, std: float, bs: int,
    dev: torch.device, dice_weight: float,
) -> dict[str, float]:
    """Validation loss and hard Dice (NaN without validation frames)."""
    if rows.size == 0:
        return {"val_loss": float("nan"), "val_dice": float("nan")}
    net.eval()
    counter, loss_sum, n = DiceCounter(), torch.zeros((), device=dev), 0
    rows_t = torch.as_tensor(rows, device=dev)
    for s in range(0, rows.size, 2 * bs):
        x, t, w = _batches(data, rows_t[s : s + 2 * bs])
        x = ((x - mean) / std).contiguous(memory_format=torch.channels_last)
        with autocast(dev):
            logits = net(x)
        loss_sum += seg_loss(logits, t, w, dice_weight) * x.shape[0]
        n += x.shape[0]
        counter.update(logits, t, w)
    net.train()
    return {"val_loss": float(loss_sum) / n, "val_dice": counter.dice()}
