"""Augmentation transforms: each alone, their composition, the draw order."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from lusfeat.seg._augment import DEFAULT_TRANSFORMS, GainGamma, HorizontalFlip, ScaleShift, augment


def _batch(b=3, c=2, h=8, w=8):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(b, 1, h, w, generator=g)
    t = (torch.rand(b, c, h, w, generator=g) > 0.5).float()
    return x, t, torch.ones(b, c, h, w)


def _gen(seed=1):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize(
    "transforms, check",
    [
        ((), "identity"),
        ((HorizontalFlip(p=1.0),), "mirror"),
        ((HorizontalFlip(p=0.0),), "identity"),
        ((ScaleShift(scale=(1.0, 1.0), shift=0.0),), "identity"),
        ((GainGamma(gain=(1.0, 1.0), gamma=(1.0, 1.0)),), "identity"),
        ((GainGamma(gain=(2.0, 2.0), gamma=(1.0, 1.0)),), "double"),
        ((GainGamma(gain=(1.0, 1.0), gamma=(2.0, 2.0)),), "square"),
    ],
)
def test_single_transforms(transforms, check):
    x, t, w = _batch()
    xa, ta, wa = augment(x.clone(), t.clone(), w.clone(), _gen(), transforms)
    if check == "identity":
        torch.testing.assert_close(xa, x.clamp(1e-6, 1) if transforms and not transforms[0].geometric else x)
        torch.testing.assert_close(ta, t)
        torch.testing.assert_close(wa, w)
    elif check == "mirror":
        torch.testing.assert_close(xa, x.flip(-1))
        torch.testing.assert_close(ta, t.flip(-1))
        torch.testing.assert_close(wa, w.flip(-1))
    elif check == "double":
        torch.testing.assert_close(xa, (2 * x.clamp(1e-6, 1)).clamp(0, 1))
    elif check == "square":
        torch.testing.assert_close(xa, x.clamp(1e-6, 1) ** 2)


def test_zoom_out_gives_zero_weight_outside_the_frame():
    x, t, w = _batch(h=16, w=16)
    _, _, wa = augment(x, t, w, _gen(), (ScaleShift(scale=(0.5, 0.5), shift=0.0),))
    assert float(wa[..., 0, 0].max()) == 0.0 and float(wa[..., 8, 8].min()) == pytest.approx(1.0)


def test_default_pipeline_is_one_resampling_with_the_drawn_parameters():
    """Flip, gain/gamma and scale/shift drawn in that order, resampled once, then the grey map."""
    x, t, w = _batch(b=5)
    xa, ta, wa = augment(x.clone(), t.clone(), w.clone(), _gen(7), DEFAULT_TRANSFORMS)
    g = _gen(7)
    b = x.shape[0]
    flip = torch.rand(b, generator=g) < 0.5
    gain = 0.7 + 0.7 * torch.rand(b, generator=g)
    gamma = 0.7 + 0.8 * torch.rand(b, generator=g)
    scale = 0.9 + 0.2 * torch.rand(b, generator=g)
    tx = -0.1 + 0.2 * torch.rand(b, generator=g)
    ty = -0.1 + 0.2 * torch.rand(b, generator=g)
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0] = torch.where(flip, -1.0, 1.0) / scale
    theta[:, 1, 1] = 1 / scale
    theta[:, 0, 2], theta[:, 1, 2] = tx, ty
    stack = torch.cat([x, t, w], 1)
    out = F.grid_sample(stack, F.affine_grid(theta, list(stack.shape), align_corners=False), align_corners=False)
    want_x = (out[:, :1].clamp(1e-6, 1) ** gamma.view(b, 1, 1, 1) * gain.view(b, 1, 1, 1)).clamp(0, 1)
    torch.testing.assert_close(xa, want_x)
    torch.testing.assert_close(ta, out[:, 1:3])
    torch.testing.assert_close(wa, out[:, 3:])
