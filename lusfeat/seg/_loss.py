"""Training loss and Dice bookkeeping for multi-label segmentation.

The loss is built from two parts, each usable alone: :func:`weighted_bce` and
:func:`soft_dice_loss`; :func:`seg_loss` combines them. Both honour the per-pixel
weight, and weight 0 removes a pixel from both (the ``ignore`` strategy relies on it).
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

__all__ = ["weighted_bce", "soft_dice_loss", "seg_loss", "DiceCounter"]


def weighted_bce(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Weighted mean binary cross-entropy: ``sum(w * bce(z, t)) / max(sum(w), 1)``.

    Parameters
    ----------
    logits, target, weight : (B, C, H, W) float tensors
        Soft targets in 0..1 enter unchanged; weight 0 excludes a pixel.

    Returns
    -------
    scalar tensor (float32)
    """
    logits = logits.float()
    bce = F.binary_cross_entropy_with_logits(logits, target, weight=weight, reduction="sum")
    return bce / weight.sum().clamp_min(1.0)


def soft_dice_loss(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Weighted soft Dice loss, ``mean_c (1 - D_c)``.

    ``D_c = (2 sum(w p t) + 1) / (sum(w p) + sum(w t) + 1)`` with ``p = sigmoid(z)``,
    sums over the batch and the pixels of class ``c`` (the +1 keeps an empty class
    at ``D = 1``); weight 0 excludes a pixel.

    Parameters
    ----------
    logits, target, weight : (B, C, H, W) float tensors

    Returns
    -------
    scalar tensor (float32)
    """
    p = torch.sigmoid(logits.float()) * weight
    dims = (0, 2, 3)
    inter = (p * target).sum(dims)
    denom = p.sum(dims) + (target * weight).sum(dims)
    return (1.0 - (2.0 * inter + 1.0) / (denom + 1.0)).mean()


def seg_loss(
    logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor, dice_weight: float = 1.0
) -> torch.Tensor:
    """Training loss: :func:`weighted_bce` ``+ dice_weight *`` :func:`soft_dice_loss`.

    Parameters
    ----------
    logits, target, weight : (B, C, H, W) float tensors
    dice_weight : float
        0 trains on the cross-entropy alone.

    Returns
    -------
    scalar tensor (float32)
    """
    loss = weighted_bce(logits, target, weight)
    if dice_weight:
        loss = loss + dice_weight * soft_dice_loss(logits, target, weight)
    return loss


class DiceCounter:
    """Accumulates hard Dice per class: prediction ``z > 0`` vs ``target >= 0.5`` where ``weight > 0``.

    Counts stay on the tensors' device until :meth:`dice` is called, so
    accumulating never syncs with the host.
    """

    def __init__(self) -> None:
        self.inter: torch.Tensor | None = None
        self.total: torch.Tensor | None = None

    def update(self, logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> None:
        valid = weight > 0
        pred = (logits > 0) & valid
        tgt = (target >= 0.5) & valid
        dims = (0, 2, 3)
        inter = (pred & tgt).sum(dims, dtype=torch.float64)
        total = pred.sum(dims, dtype=torch.float64) + tgt.sum(dims, dtype=torch.float64)
        self.inter = inter if self.inter is None else self.inter + inter
        self.total = total if self.total is None else self.total + total

    def dice(self) -> float:
        """Mean Dice over classes present in prediction or target (1.0 when none is)."""
        if self.total is None:
            return float("nan")
        inter, total = self.inter.cpu(), self.total.cpu()
        present = total > 0
        if not bool(present.any()):
            return 1.0
        return float((2 * inter[present] / total[present]).mean())
