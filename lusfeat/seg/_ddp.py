"""Data-parallel training under ``torchrun``: process group, rank roles and collectives.

``torchrun --nproc-per-node G -m lusfeat train ...`` starts ``G`` processes with
``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT`` set;
:func:`context_from_env` joins them into one process group (``nccl`` on CUDA,
``gloo`` on the CPU). Every rank builds the same global batch (same seed, same
permutation of the training frames, same augmentation draws) and trains on its
share of it (rows ``rank::world``); DistributedDataParallel averages the
gradients. Rank 0 alone writes checkpoints, tables and logs; the others follow
at barriers.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from .._errors import InputError

__all__ = ["DistContext", "context_from_env", "distributed_run"]


@dataclass(frozen=True)
class DistContext:
    """Where this process stands in a data-parallel job.

    Attributes
    ----------
    rank, world, local_rank : int
        Global rank, number of processes, rank on this machine.
    """

    rank: int
    world: int
    local_rank: int

    @property
    def main(self) -> bool:
        """True on rank 0, the process that writes outputs."""
        return self.rank == 0

    def barrier(self) -> None:
        """Wait for every rank."""
        dist.barrier()

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank (picklable values)."""
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def mean(self, value: torch.Tensor) -> torch.Tensor:
        """Mean of ``value`` over ranks (a new tensor)."""
        out = value.detach().clone()
        dist.all_reduce(out)
        return out / self.world

    def total(self, value: torch.Tensor) -> torch.Tensor:
        """Sum of ``value`` over ranks (a new tensor)."""
        out = value.detach().clone()
        dist.all_reduce(out)
        return out

    def share(self, rows: torch.Tensor) -> torch.Tensor:
        """This rank's rows of a global batch (``rows[rank::world]``; all rows when
        the batch is smaller than the world, so that no rank gets an empty batch)."""
        if rows.numel() < self.world:
            return rows
        return rows[self.rank :: self.world]


def context_from_env() -> DistContext | None:
    """The data-parallel context of a ``torchrun`` process, ``None`` when not under one.

    Raises
    ------
    InputError
        When ``WORLD_SIZE`` is set but the rank variables are missing or malformed.
    """
    world = os.environ.get("WORLD_SIZE")
    if world is None or int(world) <= 1:
        return None
    try:
        return DistContext(int(os.environ["RANK"]), int(world), int(os.environ.get("LOCAL_RANK", "0")))
    except (KeyError, ValueError):
        raise InputError("WORLD_SIZE is set but RANK/LOCAL_RANK are missing or not integers; "
                         "start data-parallel training with torchrun --nproc-per-node G -m lusfeat train ...") from None


@contextlib.contextmanager
def distributed_run(ctx: DistContext | None, device: torch.device) -> Iterator[torch.device]:
    """Join the process group of ``ctx`` for the block; yields this rank's device.

    On CUDA each rank uses ``cuda:LOCAL_RANK`` with ``nccl``; on the CPU ``gloo``.
    A group this call created is destroyed on exit.
    """
    if ctx is None:
        yield device
        return
    if device.type == "cuda":
        device = torch.device("cuda", ctx.local_rank)
        torch.cuda.set_device(device)
    created = not dist.is_initialized()
    if created:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", rank=ctx.rank,
                                world_size=ctx.world, timeout=_dt.timedelta(minutes=30))
    try:
        yield device
    finally:
        if created:
            dist.destroy_process_group()
