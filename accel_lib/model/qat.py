"""Quantisation-aware training: simulate int8 weights and activations in the forward pass
("fake quantisation": quantise then dequantise) and pass gradients straight through the rounding.

Speeds up: inference and memory after training (int8 weights are 4x smaller than fp32 and int8
matmuls are faster on supporting hardware), at the accuracy of training with the rounding in the
loop rather than rounding a trained model afterwards.
Paper: Jacob et al., "Quantization and Training of Neural Networks for Efficient Integer-Arithmetic-
Only Inference", CVPR 2018; Bengio et al., 2013 (the straight-through estimator).
Reference: ``torch.fake_quantize_per_tensor_affine`` and ``torch.fake_quantize_per_channel_affine``
(tests/model/test_qat.py::test_fake_quant_matches_torch, forward and gradient).
Caveats: training is *slower* (extra elementwise work, still fp32 matmuls); the benefit is the
deployable int8 model. Per-channel weight scales matter for convolutions.
Book: book/model/compression.ipynb
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..core.technique import Stage, Technique

__all__ = ["fake_quantize", "symmetric_scale", "affine_qparams", "QuantWrapper", "quantize_model",
           "int8_weight_bytes", "QuantizationAwareTraining"]


class _FakeQuant(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, scale, zero_point, qmin, qmax):  # type: ignore[override]
        q = torch.round(x / scale) + zero_point
        ctx.save_for_backward((q >= qmin) & (q <= qmax))
        return (q.clamp(qmin, qmax) - zero_point) * scale

    @staticmethod
    def backward(ctx, g):  # type: ignore[override]
        (inside,) = ctx.saved_tensors
        return g * inside, None, None, None, None      # straight through inside the range, 0 outside


def fake_quantize(x: torch.Tensor, scale: torch.Tensor | float, zero_point: torch.Tensor | int = 0,
                  bits: int = 8, signed: bool = True) -> torch.Tensor:
    """(clamp(round(x / scale) + z, qmin, qmax) - z) * scale with a straight-through gradient
    (identity where x is representable, zero where it is clipped). ``scale``/``zero_point`` are
    scalars or broadcastable tensors (per channel)."""
    if not 2 <= bits <= 16:
        raise ValueError(f"bits must be in [2, 16], got {bits}.")
    if torch.any(torch.as_tensor(scale) <= 0):
        raise ValueError("scale must be positive.")
    qmin, qmax = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2 ** bits - 1)
    return _FakeQuant.apply(x, scale, zero_point, qmin, qmax)


def symmetric_scale(w: torch.Tensor, bits: int = 8, dim: int | None = 0) -> torch.Tensor:
    """Per-channel (along ``dim``) or per-tensor (``dim=None``) scale max|w| / (2^(b-1) - 1), shaped
    to broadcast against ``w``."""
    qmax = 2 ** (bits - 1) - 1
    if dim is None:
        return (w.detach().abs().max() / qmax).clamp_min(1e-8)
    red = [d for d in range(w.dim()) if d != dim]
    s = w.detach().abs().amax(dim=red, keepdim=True) / qmax
    return s.clamp_min(1e-8)


def affine_qparams(lo: torch.Tensor, hi: torch.Tensor, bits: int = 8) -> tuple:
    """(scale, zero_point) mapping [lo, hi] (widened to include 0) onto unsigned [0, 2^b - 1]."""
    lo, hi = torch.minimum(lo, torch.zeros_like(lo)), torch.maximum(hi, torch.zeros_like(hi))
    scale = ((hi - lo) / (2 ** bits - 1)).clamp_min(1e-8)
    zp = torch.round(-lo / scale).clamp(0, 2 ** bits - 1)
    return scale, zp


class QuantWrapper(nn.Module):
    """Wrap a Conv2d or Linear: per-output-channel symmetric fake-quantised weights, and per-tensor
    affine fake-quantised inputs whose range is an exponential moving average of batch min/max."""

    def __init__(self, layer: nn.Module, bits: int = 8, quantize_input: bool = True, momentum: float = 0.1) -> None:
        super().__init__()
        if not isinstance(layer, (nn.Conv2d, nn.Linear)):
            raise TypeError(f"QuantWrapper wraps nn.Conv2d or nn.Linear, got {type(layer).__name__}.")
        self.layer, self.bits, self.quantize_input, self.momentum = layer, bits, quantize_input, momentum
        self.register_buffer("lo", torch.zeros(()))
        self.register_buffer("hi", torch.zeros(()))
        self.register_buffer("initialised", torch.zeros((), dtype=torch.bool))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.quantize_input:
            if self.training:
                lo, hi = x.detach().min(), x.detach().max()
                if not bool(self.initialised):
                    self.lo.copy_(lo), self.hi.copy_(hi), self.initialised.fill_(True)
                else:
                    self.lo.lerp_(lo, self.momentum), self.hi.lerp_(hi, self.momentum)
            if bool(self.initialised):
                s, z = affine_qparams(self.lo, self.hi, self.bits)
                x = fake_quantize(x, s, z, self.bits, signed=False)
        w = self.layer.weight
        wq = fake_quantize(w, symmetric_scale(w, self.bits, 0), 0, self.bits, signed=True)
        if isinstance(self.layer, nn.Linear):
            return F.linear(x, wq, self.layer.bias)
        c = self.layer
        return F.conv2d(x, wq, c.bias, c.stride, c.padding, c.dilation, c.groups)


def quantize_model(model: nn.Module, bits: int = 8, skip_first: bool = True) -> int:
    """Wrap every Conv2d/Linear of ``model`` in place (the first layer, which sees raw pixels, is
    kept in float by default, as is common practice); returns the count."""
    targets = [(n, m) for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    if skip_first:
        targets = targets[1:]
    for name, m in targets:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, QuantWrapper(m, bits))
    return len(targets)


def int8_weight_bytes(model: nn.Module) -> dict:
    """Weight bytes of the wrapped layers in fp32 and as int8 plus one fp32 scale per channel."""
    fp32 = int8 = 0
    for m in model.modules():
        if isinstance(m, QuantWrapper):
            w = m.layer.weight
            fp32 += 4 * w.numel()
            int8 += w.numel() + 4 * w.shape[0]
    return {"fp32": fp32, "int8": int8, "ratio": int8 / max(fp32, 1)}


@dataclass
class QuantizationAwareTraining(Technique):
    """Train with ``bits``-bit fake-quantised weights and activations in every Conv2d/Linear."""

    bits: int = 8
    stage = Stage.SURGERY

    def setup_model(self, model: nn.Module, state) -> nn.Module:
        if quantize_model(model, self.bits) == 0:
            raise ValueError("no Conv2d/Linear layer (after the first) to quantise.")
        return model
