"""Ultrasound-safe training augmentation as composable transforms.

A transform draws its per-sample parameters for a whole batch at once (on the
batch's device, from the training generator) and is either

* **geometric**: it contributes a ``(B, 3, 3)`` matrix mapping output to input
  coordinates (``affine_grid`` convention); all geometric transforms of a
  pipeline are multiplied together and the image, targets and weights are
  resampled **once** (bilinear; pixels from outside the frame get weight 0), or
* **intensity**: it changes the image only, after the resampling.

Parameters are drawn in the order the transforms are listed, so a pipeline is
reproducible from its seed. :data:`DEFAULT_TRANSFORMS` is lusfeat's training
augmentation: horizontal flip (never vertical: depth runs down the image), gain
and grey-map power, and a small scale and shift.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch
from torch.nn import functional as F

__all__ = ["Transform", "HorizontalFlip", "GainGamma", "ScaleShift", "DEFAULT_TRANSFORMS", "augment"]


def _uniform(b: int, lo: float, hi: float, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(b, generator=generator, device=device)


class Transform(Protocol):
    """One augmentation step (see the module docstring)."""

    geometric: bool

    def draw(self, b: int, generator: torch.Generator, device: torch.device) -> dict[str, torch.Tensor]:
        """Per-sample parameters for a batch of ``b``."""
        ...


@dataclass(frozen=True)
class HorizontalFlip:
    """Mirror left-right with probability ``p``."""

    p: float = 0.5
    geometric: bool = True

    def draw(self, b: int, generator: torch.Generator, device: torch.device) -> dict[str, torch.Tensor]:
        return {"flip": torch.rand(b, generator=generator, device=device) < self.p}

    def matrix(self, params: dict[str, torch.Tensor], dtype: torch.dtype) -> torch.Tensor:
        """``(B, 3, 3)``: ``diag(+-1, 1, 1)``."""
        flip = params["flip"]
        m = torch.eye(3, device=flip.device, dtype=dtype).repeat(flip.shape[0], 1, 1)
        m[:, 0, 0] = torch.where(flip, -1.0, 1.0).to(dtype)
        return m


@dataclass(frozen=True)
class GainGamma:
    """``x' = clip(g * x**gamma, 0, 1)`` with ``g ~ U(gain)`` and ``gamma ~ U(gamma)``.

    Exported clips differ in gain and grey map more than simulated ones: the model
    should judge shapes and contrasts, not grey levels.
    """

    gain: tuple[float, float] = (0.7, 1.4)
    gamma: tuple[float, float] = (0.7, 1.5)
    geometric: bool = False

    def draw(self, b: int, generator: torch.Generator, device: torch.device) -> dict[str, torch.Tensor]:
        return {"gain": _uniform(b, *self.gain, generator, device),
                "gamma": _uniform(b, *self.gamma, generator, device)}

    def apply(self, x: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
        """``x`` (B, 1, H, W) in 0..1, changed in place and returned."""
        b = x.shape[0]
        return x.clamp_(1e-6, 1.0).pow_(params["gamma"].view(b, 1, 1, 1)).mul_(params["gain"].view(b, 1, 1, 1)).clamp_(0, 1)


@dataclass(frozen=True)
class ScaleShift:
    """Isotropic zoom ``s ~ U(scale)`` and shifts of up to ``shift`` (a share of the
    half-frame, ``affine_grid`` units: 0.1 is 5 % of the frame) each way."""

    scale: tuple[float, float] = (0.9, 1.1)
    shift: float = 0.1
    geometric: bool = True

    def draw(self, b: int, generator: torch.Generator, device: torch.device) -> dict[str, torch.Tensor]:
        return {"scale": _uniform(b, *self.scale, generator, device),
                "tx": _uniform(b, -self.shift, self.shift, generator, device),
                "ty": _uniform(b, -self.shift, self.shift, generator, device)}

    def matrix(self, params: dict[str, torch.Tensor], dtype: torch.dtype) -> torch.Tensor:
        """``(B, 3, 3)``: ``[[1/s, 0, tx], [0, 1/s, ty], [0, 0, 1]]``."""
        s = params["scale"]
        m = torch.eye(3, device=s.device, dtype=dtype).repeat(s.shape[0], 1, 1)
        m[:, 0, 0] = 1.0 / s
        m[:, 1, 1] = 1.0 / s
        m[:, 0, 2] = params["tx"]
        m[:, 1, 2] = params["ty"]
        return m


#: lusfeat's training augmentation; parameters are drawn in this order.
DEFAULT_TRANSFORMS: tuple[Transform, ...] = (HorizontalFlip(), GainGamma(), ScaleShift())


def augment(
    x: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor,
    generator: torch.Generator,
    transforms: tuple[Transform, ...] = DEFAULT_TRANSFORMS,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Augment one batch, all samples at once.

    Parameters
    ----------
    x : (B, 1, H, W) float tensor in 0..1
    target, weight : (B, C, H, W) float tensors
    generator : torch.Generator
        On ``x.device``: the random numbers are drawn there, so a CUDA batch needs
        no host round trip.
    transforms : tuple of Transform
        Applied geometric first (one resampling), then intensity, each group in
        the order given; parameters are drawn in the order given.

    Returns
    -------
    x, target, weight : tensors of the same shapes
    """
    b, c = x.shape[0], target.shape[1]
    params = [t.draw(b, generator, x.device) for t in transforms]
    geo = [(t, p) for t, p in zip(transforms, params, strict=True) if t.geometric]
    if geo:
        theta = torch.eye(3, device=x.device, dtype=x.dtype).repeat(b, 1, 1)
        for t, p in geo:
            theta = t.matrix(p, x.dtype) @ theta
        stack = torch.cat([x, target, weight], dim=1)
        grid = F.affine_grid(theta[:, :2], list(stack.shape), align_corners=False)
        out = F.grid_sample(stack, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        x, target, weight = out[:, :1], out[:, 1 : 1 + c], out[:, 1 + c :]
    else:
        x = x.clone()
    for t, p in zip(transforms, params, strict=True):
        if not t.geometric:
            x = t.apply(x, p)
    return x, target, weight
