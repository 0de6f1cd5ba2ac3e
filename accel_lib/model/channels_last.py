"""channels_last memory format: store (B, C, H, W) activations and weights as NHWC in memory.

Speeds up: convolution throughput where the kernels prefer NHWC (Tensor Cores on NVIDIA GPUs,
oneDNN on many CPUs), by avoiding layout transposes inside every convolution. The maths is
unchanged: only strides differ.
Paper: none (a layout optimisation); see the PyTorch tutorial "Channels Last Memory Format".
Reference: ``Tensor.contiguous(memory_format=torch.channels_last)`` itself; tests/model/test_channels_last.py
checks that outputs and gradients equal the NCHW model's to float tolerance.
Caveats: the gain depends on the kernels of the device; on some CPUs and for tiny models it is
nil or negative (measured on the page). Layers that do not support NHWC silently convert back.
Book: book/model/basic_modules.ipynb
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..core.technique import Batch, Stage, Technique

__all__ = ["to_channels_last", "is_channels_last", "ChannelsLast"]


def to_channels_last(x: torch.Tensor | nn.Module):
    """Convert a 4-D tensor, or every 4-D parameter and buffer of a module, to channels_last."""
    if isinstance(x, nn.Module):
        return x.to(memory_format=torch.channels_last)
    if x.dim() != 4:
        raise ValueError(f"channels_last needs a 4-D (B, C, H, W) tensor, got {x.dim()}-D.")
    return x.contiguous(memory_format=torch.channels_last)


def is_channels_last(x: torch.Tensor) -> bool:
    return x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last)


@dataclass
class ChannelsLast(Technique):
    """Put the model (at the LAYOUT stage) and every image batch in channels_last format."""

    stage = Stage.LAYOUT

    def setup_model(self, model: nn.Module, state) -> nn.Module:
        return to_channels_last(model)

    def on_batch(self, batch: Batch, state) -> Batch:
        if batch.x.dim() != 4:
            return batch
        return Batch(to_channels_last(batch.x), batch.y, batch.weight)
