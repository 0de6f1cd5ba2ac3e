"""Adafactor: keep Adam-style second moments of a matrix as one row vector and one column vector
(their outer product, normalised, estimates the full matrix), with relative step sizes and update
clipping.

Speeds up: memory: optimizer state falls from O(nm) to O(n + m) per (n x m) matrix, freeing room
for a larger batch or model; no first moment is kept at all.
Paper: Shazeer & Stern, "Adafactor: Adaptive Learning Rates with Sublinear Memory Cost", ICML 2018.
Reference: torch.optim.Adafactor (the same algorithm, tests/optim/test_adafactor.py::test_matches_torch_adafactor),
and the state bytes against torch.optim.AdamW in the same test file.
Caveats: without momentum it is noisier than Adam on small problems; the step is relative to the
RMS of each parameter (``lr`` caps it), so zero-initialised tensors move by ``eps2`` at first.
Book: book/optim/objectives.ipynb
"""
from __future__ import annotations

from typing import Iterable, Optional, Tuple

import torch

from ._checks import check_lr, check_nonneg

__all__ = ["factored_second_moment", "optimizer_state_bytes", "Adafactor"]


def factored_second_moment(row: torch.Tensor, col: torch.Tensor, eps: float) -> torch.Tensor:
    """Rank-one estimate ``row col^T / mean(row)`` of the (..., n, m) second moment from row means
    ``row`` (..., n, 1) and column means ``col`` (..., 1, m) of the squared gradient."""
    return (row @ col) / row.mean(dim=-2, keepdim=True).clamp(min=eps)


def optimizer_state_bytes(opt: torch.optim.Optimizer) -> int:
    """Bytes of the tensors an optimizer keeps in its state (after at least one step)."""
    return sum(v.numel() * v.element_size() for s in opt.state.values() for v in s.values()
               if isinstance(v, torch.Tensor) and v.dim() > 0)


class Adafactor(torch.optim.Optimizer):
    """From-scratch Adafactor in the form of ``torch.optim.Adafactor`` (same arguments):

        beta2_t = 1 - t^beta2_decay                        (decaying averaging rate)
        R, C    = EMAs of row / column means of g^2        (vectors: the memory saving)
        V       = R C / mean(R)                            (full V for 1-D tensors)
        u       = g / sqrt(V);  u /= max(1, RMS(u) / d)    (update clipping)
        p      -= max(eps2, RMS(p)) * min(lr, 1/sqrt(t)) * u
    """

    def __init__(self, params: Iterable, lr: float = 1e-2, beta2_decay: float = -0.8,
                 eps: Tuple[Optional[float], float] = (None, 1e-3), d: float = 1.0, weight_decay: float = 0.0) -> None:
        check_lr(lr)
        if not beta2_decay <= 0:
            raise ValueError(f"beta2_decay must be <= 0 (beta2_t = 1 - t^beta2_decay), got {beta2_decay!r}.")
        if d < 1:
            raise ValueError(f"d (the clipping threshold on the update RMS) must be >= 1, got {d!r}.")
        check_nonneg("weight_decay", weight_decay)
        super().__init__(params, dict(lr=lr, beta2_decay=beta2_decay, eps=tuple(eps), d=d, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            eps1, eps2 = group["eps"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                e1 = torch.finfo(p.dtype).eps if eps1 is None else eps1
                st = self.state[p]
                if not st:
                    st["step"] = 0
                    if g.dim() > 1:
                        st["row_var"] = g.new_zeros(*g.shape[:-1], 1)
                        st["col_var"] = g.new_zeros(*g.shape[:-2], 1, g.shape[-1])
                    else:
                        st["variance"] = torch.zeros_like(g)
                st["step"] += 1
                t = st["step"]
                rate = t ** group["beta2_decay"]                     # 1 - beta2_t
                step_size = max(eps2, p.norm().item() / p.numel() ** 0.5) * min(group["lr"], t ** -0.5)
                if group["weight_decay"]:
                    p.mul_(1 - group["lr"] * group["weight_decay"])
                if g.dim() > 1:
                    st["row_var"].lerp_(g.square().mean(dim=-1, keepdim=True), rate)
                    st["col_var"].lerp_(g.square().mean(dim=-2, keepdim=True), rate)
                    v = factored_second_moment(st["row_var"], st["col_var"], e1)
                else:
                    st["variance"].lerp_(g * g, rate)
                    v = st["variance"].clone()
                u = v.clamp_(min=e1 * e1).rsqrt_().mul_(g)
                clip = max(1.0, u.norm().item() / (u.numel() ** 0.5 * group["d"]))
                p.add_(u, alpha=-step_size / clip)
        return loss
