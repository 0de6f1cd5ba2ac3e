"""Muon: momentum SGD for the 2-D weight matrices of hidden layers whose update is orthogonalised
(all singular values set near 1) by a few Newton-Schulz iterations.

Speeds up: time-to-accuracy: an orthogonalised update moves every direction of a weight matrix,
not just the few dominant ones, so fewer steps reach a given loss (the optimizer of the NanoGPT and
CIFAR-10 speedruns).
Paper: Jordan et al., "Muon: An optimizer for hidden layers in neural networks", 2024 (blog);
Liu et al., "Muon is Scalable for LLM Training", 2025.
Reference: torch.optim.Muon (tests/optim/test_muon.py::test_matches_torch_muon, 2-D parameters).
Caveats: only for hidden matrices (convolutions are flattened to (out, in*k*k)); embeddings, the
output layer, biases and norms go to AdamW (``muon_param_groups``). Five Newton-Schulz iterations
cost a few small matmuls per matrix per step; on a CPU with bf16 emulation they are slow, so
``ns_dtype=torch.float32`` is the CPU default.
Book: book/optim/objectives.ipynb
"""
from __future__ import annotations

import math
from typing import Iterable, Optional, Sequence, Tuple

import torch
from torch import nn

from ._checks import check_beta, check_lr, check_nonneg
from .adamw import adamw_update

__all__ = ["newton_schulz", "muon_param_groups", "Muon"]

NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)


def newton_schulz(g: torch.Tensor, steps: int = 5, coefficients: Tuple[float, float, float] = NS_COEFFICIENTS,
                  eps: float = 1e-7, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Approximately orthogonalise a matrix ``g`` (n, m): ``X <- a X + (b A + c A^2) X`` with
    ``A = X X^T``, starting from ``g / ||g||_F`` (so singular values are <= 1). The quintic's
    coefficients push small singular values up fast; the result has singular values roughly in
    [0.7, 1.2] rather than exactly 1, which works as well in practice."""
    if g.dim() != 2:
        raise ValueError(f"newton_schulz needs a matrix, got shape {tuple(g.shape)}; flatten convolutions first.")
    if not 0 < steps < 100:
        raise ValueError(f"steps must be in [1, 99], got {steps}.")
    a, b, c = coefficients
    x = g.to(dtype)
    tall = g.size(0) > g.size(1)
    if tall:
        x = x.T
    x = x / x.norm().clamp(min=eps)
    for _ in range(steps):
        gram = x @ x.T
        poly = torch.addmm(gram, gram, gram, beta=b, alpha=c)      # b A + c A^2
        x = torch.addmm(x, poly, x, beta=a)                          # a X + poly X
    return x.T if tall else x


def muon_param_groups(model: nn.Module, lr: float = 0.02, adamw_lr: float = 3e-3, weight_decay: float = 0.0,
                      exclude: Sequence[str] = ("head", "embed", "lm_head", "wte", "wpe")) -> list:
    """Two groups: hidden weight matrices and convolutions (Muon), everything else (AdamW). Parameters
    whose name contains one of ``exclude`` (output layer, embeddings) go to AdamW."""
    muon, other = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if p.ndim >= 2 and not any(e in name for e in exclude):
            muon.append(p)
        else:
            other.append(p)
    groups = [dict(params=muon, use_muon=True, lr=lr, weight_decay=weight_decay)]
    if other:
        groups.append(dict(params=other, use_muon=False, lr=adamw_lr, weight_decay=weight_decay))
    return groups


class Muon(torch.optim.Optimizer):
    """Muon for groups with ``use_muon=True`` (default for tensors with ``ndim >= 2``), AdamW for
    the others. For 2-D parameters and ``ns_dtype=torch.bfloat16`` it is the update of
    ``torch.optim.Muon``::

        B <- mu B + (1 - mu) g;  U <- (1 - mu) g + mu B (Nesterov) or B
        O <- NewtonSchulz(U);  w <- w (1 - lr wd) - lr sqrt(max(1, rows/cols)) O
    """

    def __init__(self, params: Iterable, lr: float = 0.02, momentum: float = 0.95, nesterov: bool = True,
                 weight_decay: float = 0.0, ns_steps: int = 5, eps: float = 1e-7,
                 ns_dtype: torch.dtype = torch.float32, adamw_betas: Tuple[float, float] = (0.9, 0.95),
                 adamw_eps: float = 1e-8) -> None:
        check_lr(lr)
        check_beta("momentum", momentum)
        check_nonneg("weight_decay", weight_decay)
        check_beta("adamw_betas[0]", adamw_betas[0])
        check_beta("adamw_betas[1]", adamw_betas[1])
        super().__init__(params, dict(lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay,
                                      ns_steps=ns_steps, eps=eps, adamw_betas=tuple(adamw_betas), adamw_eps=adamw_eps,
                                      use_muon=None))
        self.ns_dtype = ns_dtype

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                st = self.state[p]
                use = group["use_muon"] if group["use_muon"] is not None else p.ndim >= 2
                if use:
                    if p.ndim < 2:
                        raise ValueError(f"Muon needs matrices, got a parameter of shape {tuple(p.shape)}; put "
                                         "biases and norms in a group with use_muon=False.")
                    g = p.grad.reshape(p.shape[0], -1)
                    if "momentum_buffer" not in st:
                        st["momentum_buffer"] = torch.zeros_like(g)
                    buf = st["momentum_buffer"]
                    buf.lerp_(g, 1 - group["momentum"])
                    u = g.lerp(buf, group["momentum"]) if group["nesterov"] else buf
                    o = newton_schulz(u, group["ns_steps"], eps=group["eps"], dtype=self.ns_dtype)
                    scale = math.sqrt(max(1.0, g.shape[0] / g.shape[1]))
                    p.mul_(1 - group["lr"] * group["weight_decay"])
                    p.add_(o.view_as(p).to(p.dtype), alpha=-group["lr"] * scale)
                else:
                    if not st:
                        st["step"] = 0
                        st["exp_avg"] = torch.zeros_like(p)
                        st["exp_avg_sq"] = torch.zeros_like(p)
                    st["step"] += 1
                    adamw_update(p, p.grad, st["exp_avg"], st["exp_avg_sq"], st["step"], group["lr"],
                                 group["adamw_betas"], group["adamw_eps"], group["weight_decay"])
        return loss
