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
                augmentation=augmentation, threads=threads, compile=compile)  # checks every option
    cohort = open_cohort(cohort) if isinstance(cohort, (str, os.PathLike)) else cohort
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
    state_file = partial / "options.json"
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

    meta = {
        "format": RUN_FORMAT, "format_version": RUN_VERSION, "strategy": strat.spec,
        "strategy_name": strat.name, "folds": int(folds), "cross_fitted": int(folds) > 1,
        "model": cfg.to_dict(), "input_size": list(input_size), "frame_size": list(cohort.shape),
        "class_names": list(cohort.class_names), "options": options, "seed": int(seed),
        "device": str(dev), "threads": threads, "world_size": 1 if ctx is None else ctx.world, "cohort": {"path": str(cohort.path), "fingerprint": data_fp},
        "fingerprint": options_fp, "versions": versions(), "fold_results": results, "init": init_meta,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "elapsed_s": round(time.perf_counter() - t_start, 3), "producer": "lusfeat.seg.train",
    }
    write_json(partial / "run.json", meta)
    state_file.unlink()
    for k in range(int(folds)):
        (partial / f"fold-{k}" / "done.json").unlink(missing_ok=True)
    if out.exists():
        trash = out.parent / f".{out.name}.old-{os.getpid()}"
        os.replace(out, trash)
        shutil.rmtree(trash, ignore_errors=True)
    os.replace(partial, out)
    logger.info("trained %d model(s) under %s in %.1f s -> %s", int(folds), strat.spec, meta["elapsed_s"], out)
    if ctx is not None:
        ctx.barrier()
    return out


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


def _batches(x: FrameData, rows: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Images, targets and weights of ``rows`` as float tensors in 0..1."""
    img = x.images[rows].float().div_(255.0)
    return img, x.target[rows].float().div_(255.0), x.weight[rows].float().div_(255.0)


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
    seed, bs, epochs = options["seed"], options["batch_size"], options["epochs"]
    imgs = data.images[torch.as_tensor(train_rows, device=data.images.device)].float().div_(255.0)
    mean, std = float(imgs.mean()), float(imgs.std().clamp_min(1e-3))
    del imgs
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed * 1_000_003 + k)
        net = UNet(cfg)
    if init_state is not None:
        net.load_state_dict(init_state)
    net = net.to(dev).to(memory_format=torch.channels_last)  # faster with oneDNN and cuDNN alike
    main = ctx is None or ctx.main
    n_train = train_rows.size
    steps_per_epoch = max(1, n_train // bs if n_train % bs == 1 else math.ceil(n_train / bs))
    total_steps = epochs * steps_per_epoch
    opt = torch.optim.AdamW(net.parameters(), lr=options["lr"], weight_decay=options["weight_decay"])
    start_epoch, best, history = 0, {"epoch": -1, "val_dice": -1.0, "val_loss": math.inf}, []
    last = fold_dir / "last.pt"
    if last.exists():
        ck = load_checkpoint(last)
        net.load_state_dict(ck["state_dict"])
        opt.load_state_dict(ck["optimizer"])
        start_epoch, best, history = int(ck["epoch"]) + 1, dict(ck["best"]), list(ck["history"])
        if main:
            logger.info("fold %d: resuming at epoch %d", k, start_epoch)
    model = net if ctx is None else _data_parallel(net, dev)
    step_fn = torch.compile(model) if options["compile"] else model
    eval_fn = step_fn if ctx is None else net  # rank 0 validates with its own BatchNorm statistics
    meta = dict(base_meta, fold=k, normalisation={"mean": mean, "std": std})
    task = bar.add_task(f"fold {k}", total=epochs * steps_per_epoch, completed=start_epoch * steps_per_epoch)
    train_t = torch.as_tensor(train_rows, device=dev)
    sync_every = 1 if dev.type == "cpu" else 25
    for epoch in range(start_epoch, epochs):
        t0 = time.perf_counter()
        epoch_seed = int(seed) * 7919 + k * 104_729 + epoch
        perm = train_t[torch.randperm(n_train, generator=torch.Generator().manual_seed(epoch_seed)).to(dev)]
        gen = torch.Generator(device=dev).manual_seed(epoch_seed)  # augmentation draws stay on the device
        net.train()
        loss_sum, counter = torch.zeros((), device=dev), DiceCounter()
        for s in range(steps_per_epoch):
            rows = perm[s * bs : (s + 1) * bs] if s < steps_per_epoch - 1 else perm[s * bs :]
            x, t, w = _batches(data, rows)
            if options["augmentation"]:
                x, t, w = augment(x, t, w, gen)  # on the global batch: every rank draws the same
            if ctx is not None:
                mine = ctx.share(torch.arange(rows.numel(), device=dev))
                x, t, w = x[mine], t[mine], w[mine]
            x = ((x - mean) / std).contiguous(memory_format=torch.channels_last)
            for g in opt.param_groups:
                g["lr"] = _lr_at(epoch * steps_per_epoch + s, total_steps, options["lr"])
            with autocast(dev):
                logits = step_fn(x)
            loss = seg_loss(logits, t, w, options["dice_weight"])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.detach()
            counter.update(logits.detach(), t, w)
            if (s + 1) % sync_every == 0 or s == steps_per_epoch - 1:
                bar.update(task, advance=sync_every if (s + 1) % sync_every == 0 else (s + 1) % sync_every,
                           description=f"fold {k} epoch {epoch + 1}/{epochs} loss {float(loss_sum) / (s + 1):.3f}")
        if ctx is not None:
            loss_sum, counter.inter, counter.total = ctx.mean(loss_sum), ctx.total(counter.inter), ctx.total(counter.total)
        row = {"epoch": epoch, "train_loss": float(loss_sum) / steps_per_epoch, "train_dice": counter.dice(),
               "lr": opt.param_groups[0]["lr"]}
        val = _validate(eval_fn, data, val_rows, mean, std, bs, dev, options["dice_weight"]) if main else None
        row.update(val if ctx is None else ctx.broadcast(val))
        row["seconds"] = time.perf_counter() - t0
        history.append(row)
        bar.update(task, description=(f"fold {k} epoch {epoch + 1}/{epochs} loss {row['train_loss']:.3f} "
                                      f"dice {row['train_dice']:.3f} val {row['val_dice']:.3f}"))
        score = row["val_dice"] if val_rows.size else float(epoch)
        improved = score > best["val_dice"] or (score == best["val_dice"] and row["val_loss"] < best["val_loss"])
        if improved:
            best = {"epoch": epoch, "val_dice": score, "val_loss": row["val_loss"]}
        if main:
            if improved:
                save_checkpoint(fold_dir / "model.pt", net, epoch=epoch, metrics=_plain(row), **meta)
            save_checkpoint(last, net, epoch=epoch, optimizer=opt.state_dict(), best=best,
                            history=[_plain(h) for h in history], **meta)
    bar.remove_task(task)
    final = history[best["epoch"]] if best["epoch"] >= 0 else history[-1]
    if main:
        write_parquet(pd.DataFrame(history), fold_dir / "history.parquet")
        last.unlink(missing_ok=True)
        logger.info("fold %d: best epoch %d, validation Dice %.3f", k, best["epoch"] + 1, final["val_dice"])
    else:
        ctx.barrier()  # wait until rank 0 saved, so a resume never sees a fold half-written
    if ctx is not None and main:
        ctx.barrier()
    return {
        "fold": k, "best_epoch": int(best["epoch"]), "val_dice": final["val_dice"], "val_loss": final["val_loss"],
        "train_dice": final["train_dice"], "train_frames": int(n_train), "val_frames": int(val_rows.size),
        "normalisation": {"mean": mean, "std": std}, "seconds": float(sum(h["seconds"] for h in history)),
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
