"""LookSAM: compute SAM's extra gradient only every ``k`` steps and, in between, reuse the part of
it that is orthogonal to the plain gradient.

Speeds up: wall-clock per step against SAM: the second forward-backward runs on one step in
``k``, so the cost falls from about 2x to about (1 + 1/k)x while keeping most of SAM's push
towards flat regions.
Paper: Liu, Mai, Chen, Hsieh, You, "Towards Efficient and Scalable Sharpness-Aware Minimization",
CVPR 2022.
Reference: none in PyTorch; tests/optim/test_looksam.py checks that ``k=1`` is SAM exactly, the
reuse formula in closed form, and the number of extra passes.
Caveats: the reused direction goes stale when the loss landscape changes fast (high LR); ``alpha``
needs tuning; same BatchNorm and accumulation caveats as SAM.
Book: book/optim/objectives.ipynb
"""
from __future__ import annotations

from typing import Callable, Iterable, Optional, Type

import torch

from .sam import sam_perturbation

__all__ = ["orthogonal_component", "LookSAM"]


def orthogonal_component(g_sam: list, g: list, eps: float = 1e-12) -> list:
    """``g_v = g_s - (<g_s, g> / ||g||^2) g``: the part of SAM's gradient orthogonal to ``g``."""
    dot = sum((a * b).sum() for a, b in zip(g_sam, g))
    gg = sum((b * b).sum() for b in g)
    c = dot / (gg + eps)
    return [a - c * b for a, b in zip(g_sam, g)]


class LookSAM(torch.optim.Optimizer):
    """LookSAM around a base optimizer (global, not layer-wise, norms).

    Every ``k``-th step (counted from the first, in the optimizer's own state): SAM's gradient
    ``g_s``, and ``g_v`` stored. Other steps: ``g + alpha * ||g|| / ||g_v|| * g_v`` with no extra pass.
    """

    needs_closure = True

    def __init__(self, params: Iterable, base: Type[torch.optim.Optimizer] = torch.optim.SGD, rho: float = 0.05,
                 k: int = 5, alpha: float = 0.7, **base_kw) -> None:
        if rho < 0:
            raise ValueError(f"rho must be >= 0, got {rho!r}.")
        if not isinstance(k, int) or k < 1:
            raise ValueError(f"k (steps between SAM gradients) must be a positive integer, got {k!r}.")
        if alpha < 0:
            raise ValueError(f"alpha must be >= 0, got {alpha!r}.")
        super().__init__(params, dict(rho=rho, k=k, alpha=alpha, **base_kw))
        self.base = base(self.param_groups, **base_kw)
        self.param_groups = self.base.param_groups
        self.sam_passes = 0

    @torch.no_grad()
    def step(self, closure: Optional[Callable[[], torch.Tensor]] = None):
        if closure is None:
            raise ValueError("LookSAM needs step(closure) (accel_lib.core.train passes one).")
        g0 = self.param_groups[0]
        ps = [p for g in self.param_groups for p in g["params"] if p.grad is not None]
        st = self.state["looksam"] = self.state.get("looksam", {"step": 0})
        loss = None
        grads = [p.grad.clone() for p in ps]
        if st["step"] % g0["k"] == 0:
            es = sam_perturbation(grads, g0["rho"])
            for p, e in zip(ps, es):
                p.add_(e)
            with torch.enable_grad():
                loss = closure()
            for p, e in zip(ps, es):
                p.sub_(e)
            st["g_v"] = orthogonal_component([p.grad for p in ps], grads)
            self.sam_passes += 1
        else:
            gv = st["g_v"]
            gn = torch.sqrt(sum((g ** 2).sum() for g in grads))
            vn = torch.sqrt(sum((v ** 2).sum() for v in gv))
            scale = g0["alpha"] * gn / (vn + 1e-12)
            for p, g, v in zip(ps, grads, gv):
                p.grad.copy_(g + scale * v)
        st["step"] += 1
        self.base.step()
        return loss

    def state_dict(self) -> dict:
        return {"base": self.base.state_dict(), "looksam": self.state.get("looksam", {"step": 0})}

    def load_state_dict(self, state_dict: dict) -> None:
        self.base.load_state_dict(state_dict["base"])
        self.state["looksam"] = state_dict["looksam"]
