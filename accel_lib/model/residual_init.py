"""Zero-initialised residual branches (SkipInit / ReZero / Fixup) versus variance-preserving
initialisation, for deep residual networks without normalisation.

Speeds up: time-to-accuracy and stability: with each residual branch scaled by a gate that
starts at 0, a network of any depth starts as the identity, so the signal variance cannot
explode with depth and large learning rates can be used from the first step without
normalisation layers.
Paper: Bachlechner et al., "ReZero is All You Need", 2020; De & Smith, "Batch Normalization Biases
Residual Blocks Towards the Identity Function in Deep Networks" (SkipInit), NeurIPS 2020; Zhang,
Dauphin & Ma, "Fixup Initialization", ICLR 2019; He et al., 2015 (Kaiming init).
Reference: ``torchvision.models.resnet18(zero_init_residual=True)`` zeroes the last BN of each
block; tests/model/test_residual_init.py checks :func:`zero_init_resnet_` gives the same weights.
Caveats: with normalisation layers (BatchNorm) plain networks already train; the gain is largest
for deep unnormalised nets. A zero gate also zeroes the gradient of the branch's other weights at
the first step; the gate itself learns first.
Book: book/model/initialization.ipynb
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..core.technique import Stage, Technique

__all__ = ["variance_preserving_init_", "GatedResidual", "ResidualMLP", "set_gates_", "fixup_init_",
           "zero_init_resnet_", "activation_std_by_depth", "ZeroInitResidual"]


def variance_preserving_init_(model: nn.Module, nonlinearity: str = "relu") -> nn.Module:
    """Kaiming-normal (fan-in) weights and zero biases for every Conv/Linear: each layer keeps the
    variance of its input (He et al.)."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, nonlinearity=nonlinearity)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return model


class GatedResidual(nn.Module):
    """x + gate * branch(x). ``gate`` is a learnable scalar (ReZero/SkipInit); 1.0 gives a plain
    residual block."""

    def __init__(self, branch: nn.Module, gate: float = 1.0) -> None:
        super().__init__()
        self.branch = branch
        self.gate = nn.Parameter(torch.tensor(float(gate)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.gate * self.branch(x)


class ResidualMLP(nn.Module):
    """A deep residual MLP *without normalisation*: input Linear, ``depth`` gated blocks
    (Linear-ReLU-Linear), output Linear. x: (B, ...) flattened -> (B, classes). Kaiming init."""

    def __init__(self, in_features: int, width: int = 128, depth: int = 32, classes: int = 10,
                 gate: float = 1.0) -> None:
        super().__init__()
        if depth < 1 or width < 1:
            raise ValueError("depth and width must be positive.")
        self.inp = nn.Linear(in_features, width)
        self.blocks = nn.Sequential(*[GatedResidual(nn.Sequential(nn.Linear(width, width), nn.ReLU(),
                                                                  nn.Linear(width, width)), gate)
                                      for _ in range(depth)])
        self.out = nn.Linear(width, classes)
        variance_preserving_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.relu(self.blocks(self.inp(x.flatten(1)))))


def set_gates_(model: nn.Module, value: float = 0.0) -> int:
    """Set every :class:`GatedResidual` gate (ReZero: 0); returns the count."""
    gates = [m for m in model.modules() if isinstance(m, GatedResidual)]
    with torch.no_grad():
        for m in gates:
            m.gate.fill_(value)
    return len(gates)


def fixup_init_(model: nn.Module) -> int:
    """Fixup for :class:`GatedResidual` blocks with an m-layer branch: scale the branch's first
    layers by L^(-1/(2m-2)) (L = number of blocks) and zero its last layer; gates set to 1."""
    blocks = [m for m in model.modules() if isinstance(m, GatedResidual)]
    n = len(blocks)
    for b in blocks:
        layers = [m for m in b.branch.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
        mm = len(layers)
        with torch.no_grad():
            for layer in layers[:-1]:
                layer.weight.mul_(n ** (-1.0 / (2 * mm - 2)) if mm > 1 else 1.0)
            layers[-1].weight.zero_()
            b.gate.fill_(1.0)
    return n


def zero_init_resnet_(model: nn.Module) -> int:
    """Zero the last BatchNorm weight of every torchvision BasicBlock/Bottleneck (the "zero-gamma"
    trick, ``zero_init_residual=True``); returns the count."""
    from torchvision.models.resnet import BasicBlock, Bottleneck
    n = 0
    for m in model.modules():
        if isinstance(m, Bottleneck):
            nn.init.zeros_(m.bn3.weight); n += 1  # noqa: E702
        elif isinstance(m, BasicBlock):
            nn.init.zeros_(m.bn2.weight); n += 1  # noqa: E702
    return n


@torch.no_grad()
def activation_std_by_depth(model: "ResidualMLP", x: torch.Tensor) -> list:
    """Standard deviation of the hidden state after each block (the explosion curve)."""
    h = model.inp(x.flatten(1))
    out = []
    for b in model.blocks:
        h = b(h)
        out.append(float(h.std()))
    return out


@dataclass
class ZeroInitResidual(Technique):
    """Start every residual branch at zero: ``mode`` "rezero" (gates of :class:`GatedResidual` set
    to 0), "fixup" (:func:`fixup_init_`), or "zero_gamma" (torchvision ResNets; for the core GPT the
    output projections of attention and MLP are zeroed)."""

    mode: str = "rezero"
    stage = Stage.SURGERY

    def setup_model(self, model: nn.Module, state) -> nn.Module:
        if self.mode not in ("rezero", "fixup", "zero_gamma"):
            raise ValueError(f"mode must be rezero, fixup or zero_gamma, got {self.mode!r}.")
        if self.mode == "rezero":
            n = set_gates_(model, 0.0)
        elif self.mode == "fixup":
            n = fixup_init_(model)
        else:
            n = zero_init_resnet_(model)
            from ..core.models import Block
            for b in (m for m in model.modules() if isinstance(m, Block)):
                nn.init.zeros_(b.attn.proj.weight); nn.init.zeros_(b.mlp[2].weight); n += 1  # noqa: E702
        if n == 0:
            raise ValueError(f"no residual block found for mode {self.mode!r}: rezero/fixup need "
                             "GatedResidual blocks (ResidualMLP), zero_gamma a torchvision ResNet or a core GPT.")
        return model
