"""Warm start by function-preserving growth (Net2Net): widen or deepen a trained small network into
a larger one that computes exactly the same function, then keep training the larger one.

Speeds up: time-to-target of the large model, by starting it from what the small, cheaper model
already learned instead of from random weights.
Paper: Chen, Goodfellow & Shlens, "Net2Net: Accelerating Learning via Knowledge Transfer", ICLR 2016;
Chen et al., "bert2BERT", ACL 2022 (the same idea for transformers).
Reference: none in PyTorch; tests/model/test_net2net.py checks that outputs are identical right
after widening and deepening (the function-preservation claim).
Caveats: widened copies start symmetric (duplicated units receive equal gradients), so a little
noise is added to break symmetry (``noise`` > 0 makes growth only approximately preserving); the
gain over training the large model from scratch shrinks as the budget grows.
Book: book/model/initialization.ipynb
"""
from __future__ import annotations

import copy
from typing import Optional

import torch
from torch import nn

from ..core.models import GPT, Block, GPTConfig

__all__ = ["widen_linear_pair", "deepen_gpt", "widen_gpt_mlp", "grow_gpt"]


@torch.no_grad()
def widen_linear_pair(fc1: nn.Linear, fc2: nn.Linear, new_width: int, noise: float = 0.0,
                      generator: Optional[torch.Generator] = None) -> tuple:
    """Net2WiderNet for ``fc2(act(fc1(x)))`` with an elementwise ``act``: hidden units j >= h are
    copies of randomly chosen units g(j); each copy's outgoing weights are divided by the number of
    copies of its source, so the sum (the function) is unchanged. Returns the new (fc1, fc2)."""
    h = fc1.out_features
    if fc2.in_features != h:
        raise ValueError(f"fc1 has {h} outputs but fc2 expects {fc2.in_features} inputs.")
    if new_width < h:
        raise ValueError(f"new_width {new_width} must be at least the current width {h}.")
    g = torch.cat([torch.arange(h), torch.randint(0, h, (new_width - h,), generator=generator)])
    counts = torch.bincount(g, minlength=h).to(fc2.weight.dtype)
    n1 = nn.Linear(fc1.in_features, new_width, bias=fc1.bias is not None).to(fc1.weight.device)
    n2 = nn.Linear(new_width, fc2.out_features, bias=fc2.bias is not None).to(fc2.weight.device)
    n1.weight.copy_(fc1.weight[g])
    if fc1.bias is not None:
        n1.bias.copy_(fc1.bias[g])
    w2 = fc2.weight[:, g] / counts[g].to(fc2.weight.device)
    if noise:
        w2 = w2 + noise * w2.std() * torch.randn(w2.shape, generator=generator).to(w2.device)
    n2.weight.copy_(w2)
    if fc2.bias is not None:
        n2.bias.copy_(fc2.bias)
    return n1, n2


@torch.no_grad()
def _identity_block(cfg: GPTConfig, like: Block) -> Block:
    """A pre-LN block that computes the identity: its residual branches end in zeroed projections."""
    b = copy.deepcopy(like)
    for m in (b.attn.proj, b.mlp[2]):
        m.weight.zero_()
        m.bias.zero_()
    return b


def deepen_gpt(model: GPT, n_layer: int, where: str = "interleave") -> GPT:
    """A new GPT with ``n_layer`` blocks computing the same function as ``model``: the old blocks
    are kept and identity blocks (copies of a neighbour with zeroed output projections, so their
    other weights are not random) are inserted ``interleave``d after each old one or at the ``top``."""
    old = model.cfg.n_layer
    if n_layer < old:
        raise ValueError(f"n_layer {n_layer} must be at least the current depth {old}.")
    cfg = GPTConfig(**{**model.cfg.__dict__, "n_layer": n_layer})
    new = copy.deepcopy(model)
    new.cfg = cfg
    blocks = list(model.blocks)
    extra = n_layer - old
    out = []
    if where == "top":
        out = [copy.deepcopy(b) for b in blocks] + [_identity_block(cfg, blocks[-1]) for _ in range(extra)]
    elif where == "interleave":
        for i, b in enumerate(blocks):
            out.append(copy.deepcopy(b))
            k = extra // old + (1 if i < extra % old else 0)
            out.extend(_identity_block(cfg, b) for _ in range(k))
    else:
        raise ValueError(f"where must be 'interleave' or 'top', got {where!r}.")
    new.blocks = nn.ModuleList(out)
    return new


def widen_gpt_mlp(model: GPT, hidden: int, noise: float = 0.0, generator: Optional[torch.Generator] = None) -> GPT:
    """A copy of ``model`` whose MLPs have ``hidden`` units (function-preserving with ``noise=0``)."""
    new = copy.deepcopy(model)
    for b in new.blocks:
        fc1, fc2 = widen_linear_pair(b.mlp[0], b.mlp[2], hidden, noise, generator)
        b.mlp[0], b.mlp[2] = fc1, fc2
    return new


def grow_gpt(model: GPT, n_layer: Optional[int] = None, hidden: Optional[int] = None, noise: float = 0.0,
             generator: Optional[torch.Generator] = None) -> GPT:
    """Deepen to ``n_layer`` blocks and/or widen the MLPs to ``hidden`` units, preserving the function."""
    out = model
    if n_layer is not None:
        out = deepen_gpt(out, n_layer)
    if hidden is not None:
        out = widen_gpt_mlp(out, hidden, noise, generator)
    return out
