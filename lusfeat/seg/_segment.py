"""Batched inference over every frame of a cohort, out-of-fold for cross-fitted runs."""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from .._errors import InputError
from .._io import check_fingerprint, read_json
from .._progress import progress_bar
from ..data import MaskWriter, open_cohort
from ._checkpoint import load_model
from ._data import read_images
from ._device import autocast, resize, resolve_device, thread_limit, versions
from ._fast import prepare_inference
from ._train import RUN_FORMAT

__all__ = ["segment", "open_run", "frame_folds", "load_models", "predict_span"]

logger = logging.getLogger(__name__)


def open_run(run: str | os.PathLike) -> tuple[dict[str, Any], pd.DataFrame]:
    """Read a run folder's ``run.json`` and ``folds.parquet``.

    Raises
    ------
    InputError
        When ``run`` is not a finished run folder.
    """
    run = Path(run)
    meta_path = run / "run.json"
    if not meta_path.is_file():
        partial = run.parent / f".{run.name}.partial"
        hint = (f"; an interrupted run is in {partial}: rerun the same `lusfeat train` command to finish it"
                if partial.exists() else "; train one with `lusfeat train`")
        raise InputError(f"{run} is not a run folder (no run.json){hint}")
    meta = read_json(meta_path)
    if meta.get("format") != RUN_FORMAT:
        raise InputError(f"{meta_path}: format is {meta.get('format')!r}, expected {RUN_FORMAT!r}")
    try:
        folds = pd.read_parquet(run / "folds.parquet")
    except Exception as exc:
        raise InputError(f"{run / 'folds.parquet'} is missing or unreadable ({exc}); retrain the run") from None
    return meta, folds


# Over 80 lines only through its docstring (every option of the public entry point); the
# body is the short sequence of named steps below.
def segment(
    cohort: Any,
    run: str | os.PathLike,
    out: str | os.PathLike,
    *,
    device: str = "auto",
    batch_size: int = 64,
    threshold: float = 0.5,
    threads: int | None = None,
    compile: bool = False,
    scheduler: Any = None,
    on_masks: Callable[[int, torch.Tensor], None] | None = None,
    allow_foreign: bool = False,
    progress: bool = True,
    overwrite: bool = False,
) -> Path:
    """Predict masks and probabilities for every frame of a cohort with a trained run.

    In a cross-fitted run (``folds >= 2``) each frame is predicted by the model
    of its patient's fold, which never saw that patient. Frames of patients
    missing from the run's fold table (added later), and every frame of a
    foreign cohort (``allow_foreign``: its patient IDs name other people), are
    predicted by the mean of all the fold models' probabilities, as fold
    ensembles are applied to new data (nnU-Net); an ensemble run
    (:func:`lusfeat.seg.ensemble`) predicts every frame by the mean of its
    members' probabilities. Frames are resized to
    the run's input size, predicted by the network with BatchNorm folded into the
    convolutions, channels_last, bf16 weights on CUDA (fp32 on the CPU), and the
    logits resized back to the cohort's frame size (bilinear) before
    the sigmoid.

    Parameters
    ----------
    cohort : Cohort or path-like
    run : path-like
        Run folder written by :func:`train`.
    out : path-like
        Mask set folder (see :mod:`lusfeat.data._masks`): ``masks`` ``(N, C, H, W) bool``
        and ``probabilities`` ``(N, C, H, W) uint8`` (``round(255 p)``), plus
        ``masks.json`` recording the run, strategy, fold use, device and frames/s.
    device : {"auto", "cpu", "cuda", "cuda:N"}
    batch_size : int
        Frames per forward pass.
    threshold : float
        Probability at or above which a pixel is in the mask (0.5).
    threads : int, optional
        ``torch.set_num_threads`` for the call (with a scheduler: per worker, default 1).
    compile : bool
        ``torch.compile`` the networks (worth it on CUDA for large cohorts).
    scheduler : str, SchedulerSpec or distributed.Client, optional
        ``None`` predicts in this process. ``"local[:N]"`` or ``"tcp://HOST:PORT"``
        (see :mod:`lusfeat._scheduler`) splits the frames into spans of whole
        Zarr chunks (a multiple of ``batch_size``, so batches are the same as in
        process); each worker loads the run's models once, reads its frames
        from the cohort and writes its own region of the mask arrays. An
        interrupted run resumes from the regions already written
        (``.OUT.parts/``). On CUDA machines use one worker per GPU
        (``dask-cuda``'s ``LocalCUDACluster``).
    on_masks : callable, optional
        Called as ``on_masks(start, masks)`` with every batch of masks,
        ``(B, C, H, W) bool`` torch tensors on ``device`` (in process only), e.g. a
        :class:`lusfeat.features.FeatureSink` ``add`` to compute features from
        masks still on the GPU.
    allow_foreign : bool
        Apply a run trained on another cohort (or another frame size). Without it
        that is an error; with it the masks record ``foreign: true`` and
        ``out_of_fold: false`` (a model applied to new data is not out of fold).
    progress : bool
    overwrite : bool

    Returns
    -------
    Path
        The mask set folder.

    Raises
    ------
    InputError
        When the run does not fit the cohort (classes), was trained on another
        cohort without ``allow_foreign``, or options are invalid.

    Examples
    --------
    >>> masks = segment("cohort", "runs/t60", "masks/t60", device="auto")  # doctest: +SKIP
    >>> lusfeat.data.open_masks(masks).meta["frames_per_second"]  # doctest: +SKIP
    812.4
    """
    from .._scheduler import parse_scheduler

    spec = scheduler if hasattr(scheduler, "submit") else parse_scheduler(scheduler)
    cohort = open_cohort(cohort) if isinstance(cohort, (str, os.PathLike)) else cohort
    meta, fold_table = open_run(run)
    dev = resolve_device(device)
    _check_options(run, meta, cohort, batch_size, threshold, spec is not None, on_masks is not None)
    foreign = _check_cohort(run, meta, cohort, allow_foreign)
    n_folds = int(meta["folds"])
    frame_fold, unseen = frame_folds(cohort, fold_table, n_folds, foreign=foreign)
    if unseen:
        logger.info("%d frame(s) of patients unknown to run %s are predicted by %s", unseen, run,
                    _predicted_by(meta))
    out = Path(out)
    if out.exists() and not overwrite and (not out.is_dir() or any(out.iterdir())):
        raise InputError(f"output {out} already exists; choose another path or pass --overwrite")
    finish_meta = functools.partial(
        _mask_meta, t0=time.perf_counter(), run=run, meta=meta, cohort=cohort, out=out, foreign=foreign,
        unseen=unseen, options={"threshold": float(threshold), "device": str(dev), "batch_size": int(batch_size),
                                "compile": bool(compile)})
    if spec is not None:
        from ._segment_dask import segment_parts

        segment_parts(cohort, run, meta, foreign, out, dev, int(batch_size), float(threshold), threads,
                      compile, spec, progress, overwrite, finish_meta)
    else:
        _segment_here(cohort, run, meta, frame_fold, out, dev, int(batch_size), float(threshold), threads,
                      compile, on_masks, progress, overwrite, finish_meta)
    return out


def _check_options(run: Any, meta: dict[str, Any], cohort: Any, batch_size: int, threshold: float,
                   scheduled: bool, on_masks: bool) -> None:
    """InputError for a bad batch size or threshold, another class set, or ``on_masks`` with a scheduler."""
    if int(batch_size) < 1:
        raise InputError(f"batch_size must be >= 1, got {batch_size}")
    if not 0.0 < threshold < 1.0:
        raise InputError(f"threshold must be in (0, 1), got {threshold}")
    if list(meta["class_names"]) != list(cohort.class_names):
        raise InputError(
            f"run {run} predicts classes {meta['class_names']} but the cohort has {list(cohort.class_names)}"
        )
    if scheduled and on_masks:
        raise InputError("on_masks works in process only; run without a scheduler")


def _check_cohort(run: Any, meta: dict[str, Any], cohort: Any, allow_foreign: bool) -> bool:
    """Whether the run was trained on another cohort (an InputError unless ``allow_foreign``)."""
    trained_size = tuple(meta.get("frame_size") or ())
    size_note = (f"frames {trained_size[0]}x{trained_size[1]} in training, {cohort.shape[0]}x{cohort.shape[1]} here"
                 if len(trained_size) == 2 and trained_size != cohort.shape else "")
    return check_fingerprint(f"run {run}", meta.get("cohort", {}).get("fingerprint"), cohort.fingerprint,
                             source=f"cohort {cohort.path}", allow_foreign=allow_foreign, detail=size_note)


def _mask_meta(model_s: float, extra: dict[str, Any], *, t0: float, run: Any, meta: dict[str, Any], cohort: Any,
               out: Path, foreign: bool, unseen: int, options: dict[str, Any]) -> dict[str, Any]:
    """The mask set's metadata once ``model_s`` seconds of network time are spent (logs the speed)."""
    n = cohort.n_frames
    elapsed = time.perf_counter() - t0
    fps = n / elapsed if elapsed > 0 else float("inf")
    logger.info("segmented %d frames in %.2f s (%.1f frames/s, model only %.1f) -> %s",
                n, elapsed, fps, n / max(model_s, 1e-9), out)
    return {
        "producer": "lusfeat.seg.segment", "run": str(Path(run)), "strategy": meta["strategy"],
        "strategy_name": meta["strategy_name"], "run_fingerprint": meta["fingerprint"],
        "cohort": {"path": str(cohort.path), "fingerprint": cohort.fingerprint},
        "out_of_fold": bool(meta["cross_fitted"]) and not foreign, "foreign": foreign,
        "folds": int(meta["folds"]), "frames_unknown_to_run": unseen,
        "unknown_predicted_by": ("member ensemble" if meta.get("members") else
                                 "fold ensemble" if int(meta["folds"]) > 1 else "model 0"),
        "threshold": options["threshold"],
        "device": options["device"], "batch_size": options["batch_size"], "compile": options["compile"],
        "frames_per_second": fps, "model_frames_per_second": n / model_s if model_s > 0 else None,
        "elapsed_s": elapsed, "versions": versions(), **extra,
    }


def _predicted_by(meta: dict[str, Any]) -> str:
    """What predicts the frames a run has not seen: its model, the mean of its fold models or of its members."""
    n = int(meta["folds"])
    if meta.get("members"):
        return f"the mean of its {n} ensemble members"
    return f"the mean of its {n} fold models" if n > 1 else "its model"


#: ``frame_folds`` entry of a frame predicted by the mean of every fold model.
ENSEMBLE = -1


def frame_folds(cohort: Any, fold_table: pd.DataFrame, n_folds: int, foreign: bool = False) -> tuple[np.ndarray, int]:
    """The model that predicts each frame and how many frames are new to the run.

    Parameters
    ----------
    cohort : Cohort
    fold_table : DataFrame
        The run's ``folds.parquet`` (``patient_id``, ``fold``).
    n_folds : int
    foreign : bool
        The cohort is not the run's: its patient IDs name other people, so every
        frame is new.

    Returns
    -------
    frame_fold : (N,) int64
        Fold of the model for each frame; :data:`ENSEMBLE` (-1) for the frames
        of patients unknown to the run when it has two folds or more (0 with one).
    unseen : int
        Frames of patients unknown to the run.
    """
    fold_of = dict(zip(fold_table["patient_id"].astype(str), fold_table["fold"].astype(int), strict=True))
    patients = cohort.frames["patient_id"].astype(str).to_numpy()
    frame_fold = np.array([fold_of.get(p, ENSEMBLE) for p in patients], dtype=np.int64)
    if foreign:
        frame_fold[:] = ENSEMBLE
    unseen = int((frame_fold == ENSEMBLE).sum())
    if n_folds == 1:
        frame_fold[:] = 0
    return frame_fold, unseen


def load_models(run: str | os.PathLike, n_folds: int, dev: torch.device, compile: bool) -> list[tuple]:
    """Every fold's network prepared for inference: ``(net, mean, std, input_size)``."""
    models = []
    for k in range(n_folds):
        net, ck = load_model(Path(run) / f"fold-{k}" / "model.pt", dev)
        net = prepare_inference(net, dev, compile=compile)
        models.append((net, ck["normalisation"]["mean"], ck["normalisation"]["std"], tuple(ck["input_size"])))
    return models


def predict_span(
    models: list[tuple], cohort: Any, frame_fold: np.ndarray, lo: int, hi: int, batch_size: int,
    dev: torch.device, timer: list[float] | None = None,
) -> Iterator[tuple[int, torch.Tensor]]:
    """Probabilities of frames ``lo:hi`` batch by batch, ``(start, (B, C, H, W) uint8 tensor on dev)``.

    Batches follow the global grid ``[k * batch_size, (k + 1) * batch_size)``,
    so a span that starts on that grid gets the same batches (and the same
    numbers) as the whole cohort. ``timer[0]`` accumulates model seconds.
    """
    h, w = cohort.shape
    c = len(cohort.class_names)
    for start in range(lo, hi, batch_size):
        idx = np.arange(start, min(hi, (start // batch_size + 1) * batch_size))
        probs = torch.empty((idx.size, c, h, w), dtype=torch.uint8, device=dev)
        raw: dict[tuple[int, int], torch.Tensor] = {}
        for k in np.unique(frame_fold[idx]):
            sel = np.flatnonzero(frame_fold[idx] == k)
            members = models if k == ENSEMBLE else [models[int(k)]]
            total = None
            for net, mean, std, size in members:
                if size not in raw:
                    raw[size] = read_images(cohort, idx, size)
                tm = time.perf_counter()
                p = _probabilities(net, raw[size][sel], mean, std, (h, w), dev)
                if timer is not None:
                    timer[0] += time.perf_counter() - tm
                total = p if total is None else total.add_(p)
            probs[torch.as_tensor(sel, device=dev)] = _to_uint8(total.div_(len(members)))
        yield start, probs


def _segment_here(
    cohort: Any, run: Any, meta: dict[str, Any], frame_fold: np.ndarray, out: Path, dev: torch.device,
    batch_size: int, threshold: float, threads: int | None, compile: bool, on_masks: Any, progress: bool,
    overwrite: bool, finish_meta: Callable[[float, dict[str, Any]], dict[str, Any]],
) -> None:
    """The in-process path: predict and write every batch, then the metadata from ``finish_meta``."""
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn

    h, w = cohort.shape
    n = cohort.n_frames
    cut = np.uint8(round(255 * threshold))
    timer = [0.0]
    with thread_limit(threads):
        models = load_models(run, int(meta["folds"]), dev, compile)
        with (
            MaskWriter(out, n, h, w, with_probabilities=True, overwrite=overwrite) as writer,
            progress_bar(TextColumn("segment"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                         enabled=progress) as bar,
        ):
            task = bar.add_task("segment", total=n)
            for start, probs in predict_span(models, cohort, frame_fold, 0, n, batch_size, dev, timer):
                masks = probs >= cut
                if on_masks is not None:
                    on_masks(start, masks)
                writer.write(start, masks.cpu().numpy(), probs.cpu().numpy())
                bar.advance(task, probs.shape[0])
            writer.finish(finish_meta(timer[0], {}))


@torch.no_grad()
def _probabilities(
    net: torch.nn.Module, x: torch.Tensor, mean: float, std: float, frame_size: tuple[int, int],
    dev: torch.device,
) -> torch.Tensor:
    """Probabilities ``(B, C, H, W) float32`` tensor on ``dev`` at ``frame_size``."""
    dtype = next(net.parameters()).dtype
    x = ((x.to(dev, non_blocking=True) - mean) / std).to(dtype).contiguous(memory_format=torch.channels_last)
    with autocast(dev):
        logits = net(x)
    return torch.sigmoid(resize(logits.float(), frame_size))


def _to_uint8(p: torch.Tensor) -> torch.Tensor:
    """``round(255 p)`` as uint8 (``p`` is overwritten)."""
    return p.mul_(255.0).round_().to(torch.uint8)


def _predict_device(
    net: torch.nn.Module, x: torch.Tensor, mean: float, std: float, frame_size: tuple[int, int],
    dev: torch.device,
) -> torch.Tensor:
    """Probabilities ``(B, C, H, W) uint8`` tensor on ``dev`` (``round(255 p)``) at ``frame_size``."""
    return _to_uint8(_probabilities(net, x, mean, std, frame_size, dev))


def _predict(
    net: torch.nn.Module, x: torch.Tensor, mean: float, std: float, frame_size: tuple[int, int],
    dev: torch.device,
) -> np.ndarray:
    """Probabilities ``(B, C, H, W) uint8`` (``round(255 p)``) at ``frame_size``, on the host."""
    return _predict_device(net, x, mean, std, frame_size, dev).cpu().numpy()
