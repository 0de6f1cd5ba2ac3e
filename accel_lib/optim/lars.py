"""LARS: SGD with momentum whose step for each layer is rescaled by a trust ratio ||w|| / ||g||.

Speeds up: wall-clock, by letting very large batches (thousands of images) train with the same
epoch budget: the per-layer ratio keeps every layer's relative update ||dw|| / ||w|| near
``lr * trust``, so the large LR the batch needs does not blow up layers with small weights.
Paper: You, Gitman, Ginsburg, "Large Batch Training of Convolutional Networks", 2017.
Reference: none in PyTorch; closed forms on a quadratic and the per-layer trust ratio are checked
in tests/optim/test_lars.py.
Caveats: it helps only at large batch (below it plain SGD is as good); biases and normalisation
parameters are usually excluded from the ratio and from weight decay (``exclude_1d``); it needs
a warmup like any large-batch run.
Book: book/optim/large_batch.ipynb
"""
from __future__ import annotations

from typing import Iterable

import torch

from ._checks import check_beta, check_lr, check_nonneg

__all__ = ["lars_trust_ratio", "LARS"]


def lars_trust_ratio(w: torch.Tensor, g: torch.Tensor, eta: float = 1e-3, weight_decay: float = 0.0,
                     eps: float = 0.0) -> torch.Tensor:
    """``eta * ||w|| / (||g|| + weight_decay * ||w|| + eps)``, or 1 when either norm is zero
    (a fresh zero-initialised layer, or no gradient)."""
    wn, gn = w.norm(), g.norm()
    ratio = eta * wn / (gn + weight_decay * wn + eps)
    return torch.where((wn > 0) & (gn > 0), ratio, torch.ones_like(ratio))


class LARS(torch.optim.Optimizer):
    """LARS (You et al., 2017), in the common form used by large-batch recipes::

        d   = g + wd * w
        t   = eta * ||w|| / (||g|| + wd * ||w||)       (per parameter tensor)
        v   = momentum * v + lr * t * d
        w  -= v

    Args:
        lr: global learning rate (scale it with the batch and warm it up).
        momentum: heavy-ball momentum in [0, 1).
        weight_decay: L2 coefficient added to the gradient.
        eta: trust coefficient (0.001 in the paper).
        exclude_1d: tensors with one dimension (biases, BatchNorm) get plain SGD without decay.
    """

    def __init__(self, params: Iterable, lr: float = 1.0, momentum: float = 0.9, weight_decay: float = 0.0,
                 eta: float = 1e-3, eps: float = 0.0, exclude_1d: bool = True) -> None:
        check_lr(lr)
        check_beta("momentum", momentum)
        check_nonneg("weight_decay", weight_decay)
        if eta <= 0:
            raise ValueError(f"eta (trust coefficient) must be > 0, got {eta!r}.")
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay, eta=eta, eps=eps,
                                      exclude_1d=exclude_1d))

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
                g = p.grad
                if group["exclude_1d"] and p.ndim <= 1:
                    d, trust = g, 1.0
                else:
                    d = g.add(p, alpha=group["weight_decay"]) if group["weight_decay"] else g
                    trust = lars_trust_ratio(p, g, group["eta"], group["weight_decay"], group["eps"])
                upd = d * (group["lr"] * trust)
                if group["momentum"]:
                    st = self.state[p]
                    if "momentum_buffer" not in st:
                        st["momentum_buffer"] = upd.clone()
                    else:
                        st["momentum_buffer"].mul_(group["momentum"]).add_(upd)
                    upd = st["momentum_buffer"]
                p.sub_(upd)
        return loss
