"""Inference-time network preparation: fold BatchNorm into convolutions, pick dtype and layout.

An eval-mode ``BatchNorm2d`` after a bias-free convolution is an affine map per
channel, so it can be folded into the convolution's weights and bias:
``W' = W * g / sqrt(v + eps)``, ``b' = beta - m * g / sqrt(v + eps)``. The folded
network computes the same function with half the layers (about 1e-6 relative
difference in fp32), which speeds up inference on CPUs and GPUs alike.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from ._unet import UNet

__all__ = ["fold_batchnorm", "prepare_inference"]


@torch.no_grad()
def fold_batchnorm(net: UNet) -> UNet:
    """Return an eval-mode copy of ``net`` with every ``Conv2d -> BatchNorm2d`` pair folded.

    Parameters
    ----------
    net : UNet

    Returns
    -------
    UNet
        A new network (the input is not modified) whose BatchNorm layers are
        ``nn.Identity``.
    """
    out = copy.deepcopy(net).eval()
    for module in out.modules():
        if not isinstance(module, nn.Sequential):
            continue
        layers = list(module)
        for i in range(len(layers) - 1):
            conv, bn = layers[i], layers[i + 1]
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
                bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
                fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                                  conv.padding, conv.dilation, conv.groups, bias=True,
                                  device=conv.weight.device, dtype=conv.weight.dtype)
                fused.weight.copy_(conv.weight * scale.view(-1, 1, 1, 1))
                fused.bias.copy_(bn.bias + (bias - bn.running_mean) * scale)
                module[i] = fused
                module[i + 1] = nn.Identity()
    return out


def prepare_inference(
    net: UNet, device: torch.device, *, bf16: bool | None = None, compile: bool = False
) -> nn.Module:
    """Fold BatchNorm, move to ``device`` in channels_last, optionally bf16 weights and ``torch.compile``.

    Parameters
    ----------
    net : UNet
    device : torch.device
    bf16 : bool, optional
        Store weights in bfloat16 (inputs must then be bfloat16). Default: on CUDA only.
    compile : bool
        Wrap in ``torch.compile`` (CUDA: fuses the bias/ReLU epilogues).

    Returns
    -------
    nn.Module
        Ready for ``model(x)`` under ``torch.no_grad()``.
    """
    bf16 = device.type == "cuda" if bf16 is None else bf16
    model = fold_batchnorm(net).to(device).to(memory_format=torch.channels_last)
    if bf16:
        model = model.to(torch.bfloat16)
    if compile:
        model = torch.compile(model)
    return model
