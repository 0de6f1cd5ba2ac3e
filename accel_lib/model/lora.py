"""LoRA: freeze a pretrained weight W and learn a low-rank update, y = x W^T + (alpha / r) x A^T B^T.

Speeds up: fine-tuning memory and checkpoint size: only r * (d_in + d_out) parameters per adapted
layer get gradients and optimizer state (Adam keeps two fp32 copies of every trainable parameter),
and B = 0 at the start so training begins exactly at the pretrained function.
Paper: Hu et al., "LoRA: Low-Rank Adaptation of Large Language Models", ICLR 2022.
Reference: none in PyTorch (the PEFT library is the production version); tests/model/test_lora.py
checks that merging the adapter into W gives an identical ``nn.Linear`` and that the initial output
equals the base layer's.
Caveats: the forward and backward FLOPs barely change (the frozen matmuls still run and activations
still need gradients), so step time falls only by the skipped weight gradients and optimizer work;
the saving is memory. A low rank limits what the fine-tune can learn.
Book: book/model/compression.ipynb
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..core.technique import Stage, Technique

__all__ = ["LoRALinear", "add_lora", "merge_lora", "lora_parameter_count", "LoRA"]


class LoRALinear(nn.Module):
    """A frozen ``nn.Linear`` plus a trainable rank-r update. x: (..., d_in) -> (..., d_out)."""

    def __init__(self, base: nn.Linear, rank: int = 8, alpha: float = 16.0) -> None:
        super().__init__()
        if not isinstance(rank, int) or not 1 <= rank <= min(base.in_features, base.out_features):
            raise ValueError(f"rank must be an integer in [1, {min(base.in_features, base.out_features)}], got {rank!r}.")
        self.base, self.rank, self.scaling = base, rank, alpha / rank
        for p in base.parameters():
            p.requires_grad_(False)
        dev = base.weight.device
        self.lora_a = nn.Parameter(torch.empty(rank, base.in_features, device=dev))
        self.lora_b = nn.Parameter(torch.zeros(base.out_features, rank, device=dev))
        nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))      # like nn.Linear; B = 0 keeps f unchanged

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + (x @ self.lora_a.t() @ self.lora_b.t()) * self.scaling

    def merged(self) -> nn.Linear:
        """A plain ``nn.Linear`` with W + (alpha / r) B A: same function, no extra inference cost."""
        out = nn.Linear(self.base.in_features, self.base.out_features, bias=self.base.bias is not None)
        with torch.no_grad():
            out.weight.copy_(self.base.weight + self.scaling * self.lora_b @ self.lora_a)
            if self.base.bias is not None:
                out.bias.copy_(self.base.bias)
        return out.to(self.base.weight.device)


def add_lora(model: nn.Module, rank: int = 8, alpha: float = 16.0, targets: tuple = ("qkv", "proj")) -> int:
    """Freeze every parameter of ``model`` and wrap each ``nn.Linear`` whose attribute name is in
    ``targets`` with a :class:`LoRALinear`; returns the number of adapted layers."""
    for p in model.parameters():
        p.requires_grad_(False)
    found = [(n, m) for n, m in model.named_modules()
             if isinstance(m, nn.Linear) and n.rpartition(".")[2] in targets]
    for name, m in found:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, LoRALinear(m, rank, alpha))
    return len(found)


def merge_lora(model: nn.Module) -> nn.Module:
    """Replace every :class:`LoRALinear` by its merged ``nn.Linear`` (in place; returns the model)."""
    for name, m in [(n, m) for n, m in model.named_modules() if isinstance(m, LoRALinear)]:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, m.merged())
    return model


def lora_parameter_count(model: nn.Module) -> dict:
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"total": total, "trainable": trainable, "fraction": trainable / total}


@dataclass
class LoRA(Technique):
    """Fine-tune only low-rank adapters on the Linear layers named in ``targets``."""

    rank: int = 8
    alpha: float = 16.0
    targets: tuple = ("qkv", "proj")
    stage = Stage.SURGERY

    def setup_model(self, model: nn.Module, state) -> nn.Module:
        if add_lora(model, self.rank, self.alpha, self.targets) == 0:
            for p in model.parameters():
                p.requires_grad_(True)
            raise ValueError(f"no nn.Linear named one of {self.targets} in the model; pass targets= "
                             "with the attribute names of the layers to adapt (e.g. ('head',)).")
        return model
