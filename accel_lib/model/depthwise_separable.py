"""Depthwise-separable convolution: a per-channel k x k convolution followed by a 1 x 1 convolution
that mixes channels, in place of one dense k x k convolution.

Speeds up: FLOPs and parameters of a conv layer by a factor 1/C_out + 1/k^2 (about 8-9x for 3x3
layers with many channels), because spatial filtering and channel mixing are factorised.
Paper: Sifre, "Rigid-motion scattering for image classification", 2014; Howard et al.,
"MobileNets", 2017; Chollet, "Xception", CVPR 2017.
Reference: torch.nn.Conv2d with ``groups=in_channels``; tests/model/test_depthwise_separable.py
checks that the factorised layer equals a dense Conv2d whose kernel is the product
W[o, i] = P[o, i] * D[i] (the maths of the factorisation), and the FLOPs ratio.
Caveats: a different, smaller model (accuracy may drop); depthwise convolutions are memory-bound,
so on CPUs (and often GPUs) the wall-clock gain is far below the FLOPs gain, and can be a loss.
Book: book/model/basic_modules.ipynb
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..core.technique import Stage, Technique

__all__ = ["DepthwiseSeparableConv2d", "separable_to_dense", "conv_flops_ratio", "make_separable",
           "DepthwiseSeparable"]


class DepthwiseSeparableConv2d(nn.Module):
    """Depthwise (groups=C_in) k x k conv, then a 1 x 1 pointwise conv. (B, C_in, H, W) ->
    (B, C_out, H', W'), with the same stride and padding as the dense layer it replaces."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1,
                 padding: int = 1, bias: bool = False) -> None:
        super().__init__()
        if in_channels < 1 or out_channels < 1 or kernel_size < 1:
            raise ValueError("in_channels, out_channels and kernel_size must be positive.")
        self.depthwise = nn.Conv2d(in_channels, in_channels, kernel_size, stride, padding,
                                   groups=in_channels, bias=False)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


def separable_to_dense(layer: DepthwiseSeparableConv2d) -> nn.Conv2d:
    """The dense Conv2d computing exactly the same function: W[o, i, :, :] = P[o, i] * D[i, :, :]."""
    d, p = layer.depthwise, layer.pointwise
    dense = nn.Conv2d(d.in_channels, p.out_channels, d.kernel_size, d.stride, d.padding,
                      bias=p.bias is not None)
    with torch.no_grad():
        dense.weight.copy_(p.weight[:, :, 0, 0, None, None] * d.weight[:, 0][None])
        if p.bias is not None:
            dense.bias.copy_(p.bias)
    return dense


def conv_flops_ratio(in_channels: int, out_channels: int, kernel_size: int) -> float:
    """FLOPs (and weights) of the separable layer over the dense one: 1/C_out + 1/k^2 (bias-free)."""
    if min(in_channels, out_channels, kernel_size) < 1:
        raise ValueError("channels and kernel_size must be positive.")
    # depthwise C_in*k^2 + pointwise C_in*C_out multiply-adds per pixel, over dense C_in*C_out*k^2
    return 1.0 / out_channels + 1.0 / kernel_size ** 2


def make_separable(model: nn.Module, min_channels: int = 16) -> int:
    """Replace, in place, every ungrouped k x k Conv2d (k > 1) with at least ``min_channels`` input
    channels by a freshly initialised :class:`DepthwiseSeparableConv2d`; returns the count.
    The first layer (3 RGB channels) stays dense by default: separating it saves little."""
    targets = [(n, m) for n, m in model.named_modules()
               if isinstance(m, nn.Conv2d) and m.groups == 1 and m.kernel_size[0] > 1
               and m.in_channels >= min_channels]
    for name, m in targets:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        new = DepthwiseSeparableConv2d(m.in_channels, m.out_channels, m.kernel_size[0], m.stride[0],
                                       m.padding[0], bias=m.bias is not None)
        setattr(parent, child, new.to(m.weight.device))
    return len(targets)


@dataclass
class DepthwiseSeparable(Technique):
    """Train a model whose k x k convolutions (>= ``min_channels`` inputs) are depthwise-separable."""

    min_channels: int = 16
    stage = Stage.SURGERY

    def setup_model(self, model: nn.Module, state) -> nn.Module:
        if make_separable(model, self.min_channels) == 0:
            raise ValueError(f"no Conv2d with >= {self.min_channels} input channels to replace; "
                             "lower min_channels or use a convolutional model.")
        return model
