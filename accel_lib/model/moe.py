"""Sparse Mixture-of-Experts: many expert MLPs, each token routed to its top-1 or top-2 experts.

Speeds up: FLOPs per token at a given parameter count: E experts hold E times the parameters of
one MLP, yet each token pays for only k of them (plus a tiny router), so capacity grows without
compute. A capacity factor bounds the tokens per expert; a load-balancing loss keeps routing even.
Paper: Shazeer et al., "Outrageously Large Neural Networks: The Sparsely-Gated Mixture-of-Experts
Layer", ICLR 2017; Lepikhin et al., "GShard", 2020; Fedus, Zoph & Shazeer, "Switch Transformers",
JMLR 2022 (top-1 routing and the load-balancing loss used here).
Reference: none in PyTorch; tests/model/test_moe.py checks the layer against a per-token loop
written in the test, and the FLOPs claim with FlopCounterMode.
Caveats: the FLOPs saving only becomes wall-clock on hardware and kernels that run the experts'
gathers and small matmuls efficiently (grouped GEMMs, expert parallelism); on a CPU the dispatch
overhead dominates at small sizes. Dropped tokens (over capacity) get a zero expert output.
Book: book/model/basic_modules.ipynb
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from ..core.technique import Stage, Technique

__all__ = ["Routing", "route_tokens", "expert_capacity", "load_balancing_loss", "MoE", "MixtureOfExperts"]


class Routing(NamedTuple):
    """Which experts each token goes to. All (N, k): ``expert`` ids, ``gate`` weights, ``keep``
    (False where the expert was already full), ``slot`` (position within the expert's buffer)."""

    expert: torch.Tensor
    gate: torch.Tensor
    keep: torch.Tensor
    slot: torch.Tensor


def expert_capacity(n_tokens: int, n_experts: int, top_k: int, capacity_factor: float) -> int:
    """Tokens each expert may take: ceil(capacity_factor * N * k / E)."""
    if capacity_factor <= 0:
        raise ValueError(f"capacity_factor must be positive, got {capacity_factor}.")
    return max(1, math.ceil(capacity_factor * n_tokens * top_k / n_experts))


def route_tokens(logits: torch.Tensor, top_k: int, capacity: int) -> Routing:
    """Top-k routing with a capacity limit.

    logits: (N, E) router scores. Gates are the softmax probabilities of the chosen experts
    (renormalised over the k choices when k > 1). Tokens claim slots in order of choice rank, then
    token order (first choices of all tokens before second choices), as GShard does.
    """
    if logits.dim() != 2:
        raise ValueError(f"logits must be (N, E), got {tuple(logits.shape)}.")
    n, e = logits.shape
    if not 1 <= top_k <= e:
        raise ValueError(f"top_k must be in [1, {e}] (the number of experts), got {top_k}.")
    probs = torch.softmax(logits.float(), dim=-1)
    gate, expert = probs.topk(top_k, dim=-1)                         # (N, k)
    if top_k > 1:
        gate = gate / gate.sum(-1, keepdim=True)
    onehot = F.one_hot(expert.t().reshape(-1), e)                    # (k*N, E), rank-major order
    slot = (onehot.cumsum(0) - 1).gather(1, expert.t().reshape(-1, 1)).view(top_k, n).t()
    return Routing(expert, gate.to(logits.dtype), slot < capacity, slot)


def load_balancing_loss(logits: torch.Tensor, expert: torch.Tensor) -> torch.Tensor:
    """Switch Transformer auxiliary loss ``E * sum_e f_e * P_e``: f_e is the fraction of tokens whose
    first choice is e, P_e the mean router probability of e. Equals 1 for perfectly even routing."""
    e = logits.shape[-1]
    probs = torch.softmax(logits.float(), dim=-1)
    f = F.one_hot(expert[:, 0], e).float().mean(0)
    return e * (f * probs.mean(0)).sum()


class MoE(nn.Module):
    """A sparse MoE feed-forward layer: ``n_experts`` two-layer GELU MLPs ``d_model -> d_hidden ->
    d_model`` and a linear router. x: (..., d_model) -> same shape. After each forward,
    ``self.aux_loss`` holds the load-balancing loss and ``self.dropped`` the fraction of dropped
    assignments."""

    def __init__(self, d_model: int, d_hidden: int, n_experts: int = 4, top_k: int = 1,
                 capacity_factor: float = 1.25) -> None:
        super().__init__()
        if n_experts < 1 or not 1 <= top_k <= n_experts:
            raise ValueError(f"need n_experts >= 1 and 1 <= top_k <= n_experts, got {n_experts}, {top_k}.")
        self.n_experts, self.top_k, self.capacity_factor = n_experts, top_k, capacity_factor
        self.router = nn.Linear(d_model, n_experts, bias=False)
        self.w1 = nn.Parameter(torch.empty(n_experts, d_model, d_hidden))
        self.b1 = nn.Parameter(torch.zeros(n_experts, d_hidden))
        self.w2 = nn.Parameter(torch.empty(n_experts, d_hidden, d_model))
        self.b2 = nn.Parameter(torch.zeros(n_experts, d_model))
        nn.init.normal_(self.w1, 0.0, 0.02)
        nn.init.normal_(self.w2, 0.0, 0.02)
        nn.init.normal_(self.router.weight, 0.0, 0.02)
        self.aux_loss = torch.zeros(())
        self.dropped = 0.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        h = x.reshape(-1, shape[-1])                                     # (N, C)
        logits = self.router(h)                                          # (N, E)
        cap = expert_capacity(h.shape[0], self.n_experts, self.top_k, self.capacity_factor)
        r = route_tokens(logits, self.top_k, cap)
        self.aux_loss = load_balancing_loss(logits, r.expert)
        self.dropped = 1.0 - r.keep.float().mean().item()
        out = torch.zeros_like(h)
        tok = torch.arange(h.shape[0], device=h.device)[:, None].expand_as(r.expert)
        for e in range(self.n_experts):
            sel = (r.expert == e) & r.keep
            if not sel.any():
                continue
            idx, g = tok[sel], r.gate[sel]                               # tokens for this expert
            y = F.gelu(h[idx] @ self.w1[e] + self.b1[e]) @ self.w2[e] + self.b2[e]
            out = out.index_add(0, idx, y * g[:, None])
        return out.view(shape)


@dataclass
class MixtureOfExperts(Technique):
    """Replace the MLP of every core GPT block by a :class:`MoE` with the same hidden width per
    expert (so the layer holds ``n_experts`` times the MLP parameters at about the same FLOPs per
    token for top-1) and add ``aux_weight`` times the load-balancing loss to the training loss."""

    n_experts: int = 4
    top_k: int = 1
    capacity_factor: float = 1.25
    aux_weight: float = 0.01
    stage = Stage.SURGERY

    def setup_model(self, model: nn.Module, state) -> nn.Module:
        from ..core.models import Block
        blocks = [m for m in model.modules() if isinstance(m, Block)]
        if not blocks:
            raise ValueError("MixtureOfExperts found no GPT Block; it applies to accel_lib.core.GPT models.")
        for b in blocks:
            fc1 = b.mlp[0]
            b.mlp = MoE(fc1.in_features, fc1.out_features, self.n_experts, self.top_k,
                        self.capacity_factor).to(fc1.weight.device)
        self._layers = [b.mlp for b in blocks]
        return model

    def on_loss(self, loss, output, batch, state):
        return loss + self.aux_weight * sum(m.aux_loss for m in self._layers)
