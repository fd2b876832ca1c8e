"""Checkpoints: everything needed to reuse a trained U-Net, loadable with ``weights_only=True``.

A checkpoint (``model.pt``) is a dict of plain Python values and tensors::

    format, format_version    "lusfeat-unet-checkpoint", 1
    state_dict                the network's weights (CPU, float32)
    model                     UNetConfig as a dict (depth, width, in/out channels)
    strategy                  label strategy spec, e.g. "threshold:60"
    class_names               list of class names (output channel order)
    input_size                [H, W] the network was trained at
    frame_size                [H, W] of the cohort's frames
    normalisation             {"mean": m, "std": s}: x = (pixel / 255 - m) / s
    data_fingerprint          cohort fingerprint (see Cohort.fingerprint)
    versions                  lusfeat, torch, numpy, python
    fold, epoch, metrics      which fold, best epoch, its validation metrics
    train_patients, val_patients, test_patients
                              patient IDs by role for this model (test: its held-out fold)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from .._errors import InputError
from .._io import atomic_file
from ._unet import UNet, UNetConfig

__all__ = ["save_checkpoint", "load_checkpoint", "load_model", "resolve_checkpoint", "load_init"]

CHECKPOINT_FORMAT = "lusfeat-unet-checkpoint"
CHECKPOINT_VERSION = 1


def save_checkpoint(path: str | os.PathLike, model: UNet, **meta: Any) -> None:
    """Write ``model`` and ``meta`` (plain values) to ``path`` atomically."""
    state = {k: v.detach().to("cpu", torch.float32) if v.is_floating_point() else v.detach().cpu()
             for k, v in _unwrap(model).state_dict().items()}
    payload = {
        "format": CHECKPOINT_FORMAT,
        "format_version": CHECKPOINT_VERSION,
        "state_dict": state,
        "model": _unwrap(model).config.to_dict(),
        **meta,
    }
    with atomic_file(path) as tmp:
        torch.save(payload, tmp)


def _unwrap(model: torch.nn.Module) -> UNet:
    return getattr(model, "_orig_mod", model)  # torch.compile wrapper


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load a checkpoint dict safely (``torch.load(weights_only=True)``).

    Raises
    ------
    InputError
        When the file is missing, not a lusfeat checkpoint, or of an unknown version.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"checkpoint {path} does not exist; train a model with `lusfeat train`")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise InputError(f"{path} is not a loadable checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise InputError(f"{path} is not a lusfeat U-Net checkpoint")
    if ckpt.get("format_version") != CHECKPOINT_VERSION:
        raise InputError(
            f"{path}: checkpoint version {ckpt.get('format_version')!r} is unknown to this lusfeat "
            f"(reads {CHECKPOINT_VERSION}); retrain or upgrade lusfeat"
        )
    return ckpt


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[UNet, dict[str, Any]]:
    """Rebuild the U-Net stored in a checkpoint, in eval mode on ``device``.

    Returns
    -------
    model : UNet
    checkpoint : dict
        The checkpoint's metadata (see the module docstring).
    """
    ckpt = load_checkpoint(path)
    model = UNet(UNetConfig.from_dict(ckpt["model"]))
    model.load_state_dict(ckpt["state_dict"])
    return model.to(device).eval(), ckpt


def resolve_checkpoint(path: str | os.PathLike) -> Path:
    """The checkpoint file behind ``path``: a ``model.pt`` itself, a folder holding one
    (a ``lusfeat pretrain`` folder or a fold folder), or a run folder (its ``fold-0``).

    Raises
    ------
    InputError
        When no checkpoint is found there.
    """
    path = Path(path)
    for cand in (path, path / "model.pt", path / "fold-0" / "model.pt"):
        if cand.is_file():
            return cand
    raise InputError(
        f"no U-Net checkpoint at {path} (looked for the file, {path / 'model.pt'} and "
        f"{path / 'fold-0' / 'model.pt'}); pass a model.pt, a run folder or a `lusfeat pretrain` folder"
    )


def load_init(
    path: str | os.PathLike,
    class_names: list[str],
    model: UNetConfig | None,
    input_size: tuple[int, int] | None,
) -> tuple[dict[str, torch.Tensor], dict[str, Any], Path]:
    """Weights to start training from, checked against what the new training needs.

    Parameters
    ----------
    path : path-like
        Checkpoint, run folder or pretrain folder (see :func:`resolve_checkpoint`).
    class_names : list of str
        The new cohort's classes, in output-channel order.
    model : UNetConfig or None
        The requested network (``None``: take the checkpoint's).
    input_size : (int, int) or None
        The requested training size (``None``: take the checkpoint's).

    Returns
    -------
    state_dict : dict
        Weights (CPU, float32).
    meta : dict
        ``path``, ``digest``, ``model`` (UNetConfig dict), ``input_size``, ``strategy``,
        ``data_fingerprint`` and ``normalisation`` (``mean``, ``std``) of the checkpoint.
    file : Path

    Raises
    ------
    InputError
        When the classes, the network or the input size differ from the checkpoint's.
    """
    from .._io import file_digest

    file = resolve_checkpoint(path)
    ckpt = load_checkpoint(file)
    if list(ckpt.get("class_names", [])) != list(class_names):
        raise InputError(
            f"--init {file} was trained for the classes {list(ckpt.get('class_names', []))}; this cohort has "
            f"{list(class_names)}: fine-tune only from a model with the same classes in the same order"
        )
    cfg = UNetConfig.from_dict(ckpt["model"])
    if model is not None and model.to_dict() != cfg.to_dict():
        raise InputError(
            f"--init {file} holds a U-Net {cfg.to_dict()}, but {model.to_dict()} was asked for; "
            "drop --depth/--width to use the checkpoint's network"
        )
    size = tuple(int(v) for v in ckpt.get("input_size", ()))
    if input_size is not None and tuple(input_size) != size:
        raise InputError(
            f"--init {file} was trained at {size[0]}x{size[1]} px, but training at "
            f"{input_size[0]}x{input_size[1]} was asked for; pass --size {size[0]} (frames are resized on the fly)"
        )
    meta = {"path": str(file), "digest": file_digest(file), "model": cfg.to_dict(), "input_size": list(size),
            "strategy": ckpt.get("strategy"), "data_fingerprint": ckpt.get("data_fingerprint"),
            "normalisation": dict(ckpt.get("normalisation") or {})}
    return ckpt["state_dict"], meta, file
