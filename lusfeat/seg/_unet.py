"""A plain-PyTorch U-Net with a multi-label sigmoid head.

Each level is two ``3x3 conv -> BatchNorm -> ReLU`` blocks; the encoder halves
the resolution ``depth`` times with 2x2 max pooling and doubles the channels,
the decoder upsamples with 2x2 transposed convolutions and concatenates the
skip connection. A ``1x1`` convolution gives one logit per class (classes may
overlap, so the head is a per-class sigmoid, not a softmax), its bias starting
at -3 (5 % foreground). Inputs whose
height or width is not a multiple of ``2**depth`` are reflect-padded and the
output is cropped back, so any frame size works.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from .._errors import InputError

__all__ = ["UNetConfig", "UNet"]

#: Initial bias of the output logits: sigmoid(-3) = 0.05, a sparse-foreground prior that
#: keeps freshly initialised networks from predicting every class everywhere.
HEAD_BIAS = -3.0


@dataclass(frozen=True)
class UNetConfig:
    """U-Net hyper-parameters.

    Parameters
    ----------
    depth : int
        Number of 2x2 poolings (the network has ``depth + 1`` resolution levels), 1..6.
    width : int
        Channels of the first level; level ``k`` has ``width * 2**k``.
    in_channels : int
        Input channels (1 for B-mode frames).
    out_channels : int
        One logit per class (5 for :data:`lusfeat.data.CLASS_NAMES`).

    Raises
    ------
    InputError
        When a value is out of range.

    Examples
    --------
    >>> UNetConfig(depth=3, width=8).n_parameters()
    121069
    """

    depth: int = 4
    width: int = 16
    in_channels: int = 1
    out_channels: int = 5

    def __post_init__(self) -> None:
        for name, lo, hi in (("depth", 1, 6), ("width", 1, 512), ("in_channels", 1, 64), ("out_channels", 1, 256)):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
                raise InputError(f"UNetConfig.{name} must be an integer in {lo}..{hi}, got {v!r}")

    def to_dict(self) -> dict[str, int]:
        """Plain dict, as stored in checkpoints and ``run.json``."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> UNetConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        try:
            return cls(**{k: int(v) for k, v in d.items()})
        except TypeError as exc:
            raise InputError(f"invalid model config {d!r}: {exc}") from None

    def n_parameters(self) -> int:
        """Number of trainable parameters of the network this config builds."""
        return sum(p.numel() for p in UNet(self).parameters())


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class UNet(nn.Module):
    """U-Net for multi-label segmentation.

    Parameters
    ----------
    config : UNetConfig, optional
        Defaults to ``UNetConfig()`` (4 poolings, 16 base channels, 1.9 M parameters).

    Examples
    --------
    >>> net = UNet(UNetConfig(depth=2, width=4))
    >>> net(torch.zeros(2, 1, 37, 50)).shape
    torch.Size([2, 5, 37, 50])
    """

    def __init__(self, config: UNetConfig | None = None) -> None:
        super().__init__()
        self.config = config or UNetConfig()
        w, d = self.config.width, self.config.depth
        chans = [w * 2**k for k in range(d + 1)]
        self.down = nn.ModuleList()
        cin = self.config.in_channels
        for c in chans:
            self.down.append(_block(cin, c))
            cin = c
        self.up = nn.ModuleList(nn.ConvTranspose2d(chans[k + 1], chans[k], 2, stride=2) for k in reversed(range(d)))
        self.dec = nn.ModuleList(_block(2 * chans[k], chans[k]) for k in reversed(range(d)))
        self.head = nn.Conv2d(chans[0], self.config.out_channels, 1)
        nn.init.constant_(self.head.bias, HEAD_BIAS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, out_channels, H, W)`` for input ``(B, in_channels, H, W)``."""
        h, w = x.shape[-2:]
        m = 2**self.config.depth
        ph, pw = (-h) % m, (-w) % m
        if ph or pw:
            mode = "reflect" if ph < h and pw < w else "replicate"
            x = F.pad(x, (0, pw, 0, ph), mode=mode)
        skips = []
        for k, block in enumerate(self.down):
            x = block(x)
            if k < self.config.depth:
                skips.append(x)
                x = F.max_pool2d(x, 2)
        for up, dec in zip(self.up, self.dec, strict=True):
            x = dec(torch.cat([up(x), skips.pop()], dim=1))
        x = self.head(x)
        if ph or pw:
            x = x[..., :h, :w]
        return x
