"""The optimizer step three ways: a Python loop over parameters, ``torch._foreach_*`` operators
over the whole list (multi-tensor), and a fused kernel (``fused=True``).

Speeds up: wall-clock of the update, which for models with many small tensors is dominated by
per-operator overhead: the loop launches ~10 operators *per parameter*, foreach ~10 in total
(each over a list of tensors), and a fused kernel one pass per parameter with no intermediates.
Paper: none (an implementation technique; NVIDIA Apex's multi-tensor apply introduced it).
Reference: torch.optim.AdamW(foreach=False / foreach=True / fused=True)
(tests/system/test_optimizer_step.py::test_loop_and_foreach_match_torch).
Caveats: the update is a small part of a step for large-batch convolutional training; it matters
for models with many parameter tensors and small batches. Results equal up to rounding.
Book: book/system/input_pipeline.ipynb
"""
from __future__ import annotations

import math
from typing import Iterable

import torch

__all__ = ["adamw_loop", "adamw_foreach", "ScratchAdamW"]


@torch.no_grad()
def adamw_loop(params: list, grads: list, exp_avgs: list, exp_avg_sqs: list, step: int, *, lr: float,
               beta1: float, beta2: float, eps: float, weight_decay: float) -> None:
    """One AdamW update, parameter by parameter (``step`` is the 1-based step count)."""
    bc1 = 1 - beta1 ** step
    bc2_sqrt = math.sqrt(1 - beta2 ** step)
    for p, g, m, v in zip(params, grads, exp_avgs, exp_avg_sqs):
        p.mul_(1 - lr * weight_decay)                   # decoupled weight decay
        m.lerp_(g, 1 - beta1)                           # m = b1 m + (1 - b1) g
        v.mul_(beta2).addcmul_(g, g, value=1 - beta2)   # v = b2 v + (1 - b2) g^2
        denom = (v.sqrt() / bc2_sqrt).add_(eps)
        p.addcdiv_(m, denom, value=-lr / bc1)


@torch.no_grad()
def adamw_foreach(params: list, grads: list, exp_avgs: list, exp_avg_sqs: list, step: int, *, lr: float,
                  beta1: float, beta2: float, eps: float, weight_decay: float) -> None:
    """The same update with multi-tensor ``torch._foreach_*`` operators: each line is one call over
    the whole parameter list instead of one call per parameter."""
    bc1 = 1 - beta1 ** step
    bc2_sqrt = math.sqrt(1 - beta2 ** step)
    torch._foreach_mul_(params, 1 - lr * weight_decay)
    torch._foreach_lerp_(exp_avgs, grads, 1 - beta1)
    torch._foreach_mul_(exp_avg_sqs, beta2)
    torch._foreach_addcmul_(exp_avg_sqs, grads, grads, value=1 - beta2)
    denom = torch._foreach_sqrt(exp_avg_sqs)
    torch._foreach_div_(denom, bc2_sqrt)
    torch._foreach_add_(denom, eps)
    torch._foreach_addcdiv_(params, exp_avgs, denom, value=-lr / bc1)


class ScratchAdamW(torch.optim.Optimizer):
    """AdamW written from scratch, with ``impl="loop"`` or ``impl="foreach"``.

    Matches ``torch.optim.AdamW`` (amsgrad off, no maximize) up to floating-point rounding.
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, impl: str = "foreach") -> None:
        if impl not in ("loop", "foreach"):
            raise ValueError(f"impl must be 'loop' or 'foreach', got {impl!r}.")
        if not lr >= 0 or not 0 <= betas[0] < 1 or not 0 <= betas[1] < 1 or not eps > 0:
            raise ValueError(f"need lr >= 0, 0 <= betas < 1 and eps > 0; got lr={lr}, betas={betas}, eps={eps}.")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))
        self.impl = impl

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        fn = adamw_foreach if self.impl == "foreach" else adamw_loop
        for group in self.param_groups:
            ps = [p for p in group["params"] if p.grad is not None]
            if not ps:
                continue
            for p in ps:
                st = self.state[p]
                if not st:
                    st["step"] = 0
                    st["exp_avg"] = torch.zeros_like(p)
                    st["exp_avg_sq"] = torch.zeros_like(p)
                st["step"] += 1
            step = self.state[ps[0]]["step"]
            fn(ps, [p.grad for p in ps], [self.state[p]["exp_avg"] for p in ps],
               [self.state[p]["exp_avg_sq"] for p in ps], step, lr=group["lr"], beta1=group["betas"][0],
               beta2=group["betas"][1], eps=group["eps"], weight_decay=group["weight_decay"])
        return loss
