"""LAMB: Adam(W) whose update for each layer is rescaled to ``lr * ||w||`` by a trust ratio.

Speeds up: wall-clock, by keeping adaptive optimizers stable at very large batches (BERT at
batch 32k), so many more examples are processed per step without losing accuracy per epoch.
Paper: You et al., "Large Batch Optimization for Deep Learning: Training BERT in 76 minutes", ICLR 2020.
Reference: with the trust ratio switched off (``adapt=False``) it is exactly ``torch.optim.AdamW``
(tests/optim/test_lamb.py::test_without_trust_ratio_equals_torch_adamw).
Caveats: like LARS, it pays only at large batch; at small batch it behaves like AdamW with a
per-layer LR. Layers whose weights are zero (fresh biases) fall back to a ratio of 1.
Book: book/optim/large_batch.ipynb
"""
from __future__ import annotations

from typing import Iterable, Tuple

import torch

from ._checks import check_beta, check_lr, check_nonneg

__all__ = ["lamb_trust_ratio", "LAMB"]


def lamb_trust_ratio(w: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """``||w|| / ||r||`` for the Adam direction ``r`` (weight decay included), 1 if a norm is zero."""
    wn, rn = w.norm(), r.norm()
    return torch.where((wn > 0) & (rn > 0), wn / rn, torch.ones_like(wn))


class LAMB(torch.optim.Optimizer):
    """LAMB::

        m, v  = Adam moments of g (bias-corrected: m_hat, v_hat)
        r     = m_hat / (sqrt(v_hat) + eps) + wd * w
        w    -= lr * (||w|| / ||r||) * r           (per parameter tensor)

    ``exclude_1d`` gives 1-D tensors (biases, norms) no weight decay and a trust ratio of 1.
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: Tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-6, weight_decay: float = 0.01, adapt: bool = True, exclude_1d: bool = True) -> None:
        check_lr(lr)
        check_beta("betas[0]", betas[0])
        check_beta("betas[1]", betas[1])
        check_nonneg("weight_decay", weight_decay)
        check_nonneg("eps", eps)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, adapt=adapt,
                                      exclude_1d=exclude_1d))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            b1, b2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                st = self.state[p]
                if not st:
                    st["step"] = 0
                    st["exp_avg"] = torch.zeros_like(p)
                    st["exp_avg_sq"] = torch.zeros_like(p)
                st["step"] += 1
                t = st["step"]
                st["exp_avg"].lerp_(p.grad, 1 - b1)
                st["exp_avg_sq"].mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
                m_hat = st["exp_avg"] / (1 - b1 ** t)
                v_hat = st["exp_avg_sq"] / (1 - b2 ** t)
                one_d = group["exclude_1d"] and p.ndim <= 1
                r = m_hat / (v_hat.sqrt() + group["eps"])
                if group["weight_decay"] and not one_d:
                    r = r.add(p, alpha=group["weight_decay"])
                trust = lamb_trust_ratio(p, r) if group["adapt"] and not one_d else 1.0
                p.sub_(r * (group["lr"] * trust))
        return loss
