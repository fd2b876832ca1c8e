"""The loss parts against hand-computed values, table-driven."""

from __future__ import annotations

import math

import pytest
import torch

from lusfeat.seg._loss import seg_loss, soft_dice_loss, weighted_bce


def _t(v):
    return torch.tensor(v, dtype=torch.float32).view(1, 1, 1, -1)


def _bce(z, t):
    p = 1 / (1 + math.exp(-z))
    return -(t * math.log(p) + (1 - t) * math.log(1 - p))


def _sig(z):
    return 1 / (1 + math.exp(-z))


# (logits, target, weight)
CASES = [
    ([0.0, 0.0], [1.0, 0.0], [1.0, 1.0]),
    ([2.0, -1.0, 0.5], [1.0, 0.0, 1.0], [1.0, 1.0, 1.0]),
    ([2.0, -1.0, 0.5], [0.7, 0.2, 0.6], [1.0, 0.5, 2.0]),  # soft targets, uneven weights
    ([3.0, -3.0, 5.0], [1.0, 0.0, 0.0], [1.0, 1.0, 0.0]),  # last pixel ignored (weight 0)
    ([1.0], [1.0], [0.0]),  # everything ignored
]


@pytest.mark.parametrize("z, t, w", CASES)
def test_weighted_bce_by_hand(z, t, w):
    want = sum(wi * _bce(zi, ti) for zi, ti, wi in zip(z, t, w, strict=True)) / max(sum(w), 1.0)
    assert float(weighted_bce(_t(z), _t(t), _t(w))) == pytest.approx(want, rel=1e-5, abs=1e-7)


@pytest.mark.parametrize("z, t, w", CASES)
def test_soft_dice_by_hand(z, t, w):
    inter = sum(wi * _sig(zi) * ti for zi, ti, wi in zip(z, t, w, strict=True))
    denom = sum(wi * _sig(zi) for zi, wi in zip(z, w, strict=True)) + sum(ti * wi for ti, wi in zip(t, w, strict=True))
    want = 1 - (2 * inter + 1) / (denom + 1)
    assert float(soft_dice_loss(_t(z), _t(t), _t(w))) == pytest.approx(want, rel=1e-5, abs=1e-7)


@pytest.mark.parametrize("dice_weight", [0.0, 0.5, 1.0])
def test_combined_loss(dice_weight):
    z, t, w = (_t(v) for v in CASES[2])
    want = float(weighted_bce(z, t, w)) + dice_weight * float(soft_dice_loss(z, t, w))
    assert float(seg_loss(z, t, w, dice_weight)) == pytest.approx(want, rel=1e-6)


def test_weight_zero_pixels_do_not_change_the_loss_or_its_gradient():
    """What the ``ignore`` strategy relies on: an excluded pixel's logit and target are irrelevant."""
    base_z = torch.tensor([[[[1.0, -2.0, 0.3, 4.0]]]], requires_grad=True)
    t = torch.tensor([[[[1.0, 0.0, 1.0, 0.0]]]])
    w = torch.tensor([[[[1.0, 1.0, 1.0, 0.0]]]])
    loss = seg_loss(base_z, t, w)
    loss.backward()
    other_z = torch.tensor([[[[1.0, -2.0, 0.3, -9.0]]]], requires_grad=True)
    other_t = torch.tensor([[[[1.0, 0.0, 1.0, 1.0]]]])
    loss2 = seg_loss(other_z, other_t, w)
    loss2.backward()
    assert float(loss.detach()) == pytest.approx(float(loss2.detach()), rel=1e-6)
    assert float(base_z.grad[..., 3]) == 0.0 and float(other_z.grad[..., 3]) == 0.0
    torch.testing.assert_close(base_z.grad[..., :3], other_z.grad[..., :3])
