"""AdamW: Adam with weight decay decoupled from the adaptive step, written out step by step.

Speeds up: time-to-accuracy, by adapting the step per coordinate (fast progress on badly scaled
problems, little LR tuning); decoupling the decay makes the best LR and the best decay nearly
independent, so tuning is cheaper.
Paper: Kingma & Ba, "Adam", ICLR 2015; Loshchilov & Hutter, "Decoupled Weight Decay
Regularization", ICLR 2019.
Reference: torch.optim.AdamW (tests/optim/test_adamw.py::test_matches_torch_adamw).
Caveats: two moment buffers (2x the parameter memory; see Adafactor); on small CNNs tuned SGD with
momentum often generalises as well or better; use ``torch.optim.AdamW(fused=True)`` for speed.
Book: book/optim/objectives.ipynb
"""
from __future__ import annotations

from typing import Iterable, Tuple

import torch

from ._checks import check_beta, check_lr, check_nonneg

__all__ = ["adamw_update", "AdamW"]


def adamw_update(p: torch.Tensor, g: torch.Tensor, m: torch.Tensor, v: torch.Tensor, step: int, lr: float,
                 betas: Tuple[float, float], eps: float, weight_decay: float) -> None:
    """One in-place AdamW update of ``p`` with moments ``m``, ``v`` (``step`` counts from 1):

        p <- p * (1 - lr * wd)                     decoupled decay
        m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2
        p <- p - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
    """
    b1, b2 = betas
    p.mul_(1 - lr * weight_decay)
    m.lerp_(g, 1 - b1)
    v.mul_(b2).addcmul_(g, g, value=1 - b2)
    denom = (v / (1 - b2 ** step)).sqrt_().add_(eps)
    p.addcdiv_(m, denom, value=-lr / (1 - b1 ** step))


class AdamW(torch.optim.Optimizer):
    """From-scratch AdamW; same arguments and defaults as ``torch.optim.AdamW`` (no amsgrad)."""

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: Tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2) -> None:
        check_lr(lr)
        check_beta("betas[0]", betas[0])
        check_beta("betas[1]", betas[1])
        check_nonneg("eps", eps)
        check_nonneg("weight_decay", weight_decay)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))

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
                if not st:
                    st["step"] = 0
                    st["exp_avg"] = torch.zeros_like(p)
                    st["exp_avg_sq"] = torch.zeros_like(p)
                st["step"] += 1
                adamw_update(p, p.grad, st["exp_avg"], st["exp_avg_sq"], st["step"], group["lr"], group["betas"],
                             group["eps"], group["weight_decay"])
        return loss
