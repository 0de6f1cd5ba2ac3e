"""SAM: sharpness-aware minimisation. Step with the gradient taken at the worst nearby point
``w + rho * g / ||g||`` instead of at ``w``, which steers training towards flat minima.

Speeds up: time-to-accuracy in the regime where generalisation, not optimisation, limits accuracy
(long runs, label noise, small data): the same accuracy in fewer epochs, although each step costs
about two forward-backward passes.
Paper: Foret, Kleiner, Mobahi, Neyshabur, "Sharpness-Aware Minimization for Efficiently Improving
Generalization", ICLR 2021.
Reference: none in PyTorch; tests/optim/test_sam.py checks the closed form on a quadratic and
that ``rho=0`` gives the base optimizer exactly.
Caveats: about 2x the cost per step, so on short budgets it usually loses in wall-clock; the
second forward pass updates BatchNorm statistics again; not compatible with gradient accumulation
in this loop (``needs_closure``).
Book: book/optim/objectives.ipynb
"""
from __future__ import annotations

from typing import Callable, Iterable, Optional, Type

import torch

__all__ = ["sam_perturbation", "SAM"]


def sam_perturbation(grads: list, rho: float, eps: float = 1e-12) -> list:
    """``rho * g / ||g||`` with the norm over all tensors (the first-order worst-case direction)."""
    norm = torch.sqrt(sum((g.float() ** 2).sum() for g in grads))
    scale = rho / (norm + eps)
    return [g * scale.to(g.dtype) for g in grads]


class SAM(torch.optim.Optimizer):
    """SAM around a base optimizer. The loop computes the gradient at ``w``; ``step(closure)``
    moves to ``w + e``, calls ``closure()`` (zero grads, forward, backward on the same batch),
    returns to ``w`` and lets the base optimizer step with the gradient from ``w + e``.

    Args:
        params: parameters or groups.
        base: the base optimizer class (default ``torch.optim.SGD``); ``**base_kw`` go to it.
        rho: radius of the neighbourhood (0.05 for CIFAR in the paper).
    """

    needs_closure = True

    def __init__(self, params: Iterable, base: Type[torch.optim.Optimizer] = torch.optim.SGD, rho: float = 0.05,
                 **base_kw) -> None:
        if not isinstance(rho, (int, float)) or rho < 0:
            raise ValueError(f"rho (the neighbourhood radius) must be >= 0, got {rho!r}.")
        defaults = dict(rho=rho, **base_kw)
        super().__init__(params, defaults)
        self.base = base(self.param_groups, **base_kw)
        self.param_groups = self.base.param_groups   # one set of groups: LR schedules reach the base
        self.defaults.update(self.base.defaults)

    def _params(self) -> list:
        return [p for g in self.param_groups for p in g["params"] if p.grad is not None]

    @torch.no_grad()
    def step(self, closure: Optional[Callable[[], torch.Tensor]] = None):
        if closure is None:
            raise ValueError("SAM needs step(closure): the closure must zero the gradients and redo forward "
                             "and backward on the same batch (accel_lib.core.train passes one).")
        ps = self._params()
        rho = self.param_groups[0]["rho"]
        es = sam_perturbation([p.grad for p in ps], rho)
        for p, e in zip(ps, es):
            p.add_(e)
        with torch.enable_grad():
            loss = closure()
        for p, e in zip(ps, es):
            p.sub_(e)
        self.base.step()
        return loss

    def state_dict(self) -> dict:
        return self.base.state_dict()

    def load_state_dict(self, state_dict: dict) -> None:
        self.base.load_state_dict(state_dict)
