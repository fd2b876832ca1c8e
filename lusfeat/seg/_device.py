"""Device selection, thread limits and small torch helpers shared by train and segment."""

from __future__ import annotations

import contextlib
import platform
from collections.abc import Iterator

import numpy as np
import torch
from torch.nn import functional as F

from .._errors import InputError

__all__ = ["resolve_device", "thread_limit", "resize", "versions", "autocast"]


def resolve_device(device: str) -> torch.device:
    """Turn ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` into a :class:`torch.device`.

    ``auto`` picks CUDA when available, else the CPU.

    Raises
    ------
    InputError
        For an unknown name, or CUDA asked for but not available.
    """
    name = str(device).strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise InputError(f"device {device!r} asked for, but CUDA is not available; use --device cpu or auto")
        return torch.device(name)
    raise InputError(f"unknown device {device!r}; expected auto, cpu, cuda or cuda:N")


@contextlib.contextmanager
def thread_limit(threads: int | None) -> Iterator[None]:
    """Run a block with ``torch.set_num_threads(threads)``, restoring the old value after.

    ``None`` leaves torch's setting alone.
    """
    if threads is None:
        yield
        return
    if int(threads) < 1:
        raise InputError(f"threads must be >= 1, got {threads}")
    old = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.set_num_threads(old)


def autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA; a no-op (fp32) on the CPU."""
    if device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize ``(B, C, H, W)`` float tensors bilinearly (antialiased when shrinking)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    shrink = size[0] < x.shape[-2] or size[1] < x.shape[-1]
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=shrink)


def versions() -> dict[str, str]:
    """Library versions recorded in checkpoints and metadata."""
    from .. import __version__

    return {
        "lusfeat": __version__,
        "torch": str(torch.__version__),
        "numpy": str(np.__version__),
        "python": platform.python_version(),
    }



