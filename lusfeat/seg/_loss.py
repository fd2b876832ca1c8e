"""Training loss and Dice bookkeeping for multi-label segmentation."""

from __future__ import annotations

import torch
from torch.nn import functional as F

__all__ = ["seg_loss", "DiceCounter"]


def seg_loss(
    logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor, dice_weight: float = 1.0
) -> torch.Tensor:
    """Weighted BCE plus weighted soft Dice.

    ``loss = sum(w * bce(z, t)) / sum(w) + dice_weight * mean_c (1 - D_c)`` with
    ``D_c = (2 sum(w p t) + 1) / (sum(w p) + sum(w t) + 1)``, ``p = sigmoid(z)``,
    sums over the batch and pixels of class ``c``. Soft targets (``soft``
    strategy) enter both terms unchanged; weight 0 excludes a pixel.

    Parameters
    ----------
    logits, target, weight : (B, C, H, W) float tensors
    dice_weight : float

    Returns
    -------
    scalar tensor (float32)
    """
    logits = logits.float()
    bce = F.binary_cross_entropy_with_logits(logits, target, weight=weight, reduction="sum")
    loss = bce / weight.sum().clamp_min(1.0)
    if dice_weight:
        p = torch.sigmoid(logits) * weight
        dims = (0, 2, 3)
        inter = (p * target).sum(dims)
        denom = p.sum(dims) + (target * weight).sum(dims)
        loss = loss + dice_weight * (1.0 - (2.0 * inter + 1.0) / (denom + 1.0)).mean()
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
