"""Lookahead: let the inner optimizer take ``k`` fast steps, then move slow weights a fraction
``alpha`` of the way towards the fast ones and restart the fast weights from there.

Speeds up: time-to-accuracy and robustness: the interpolation cancels much of the fast weights'
oscillation, so training tolerates larger LRs and needs less tuning, at the cost of one extra copy
of the weights and an update every ``k`` steps.
Paper: Zhang, Lucas, Hinton, Ba, "Lookahead Optimizer: k steps forward, 1 step back", NeurIPS 2019.
Reference: none in PyTorch; tests/optim/test_lookahead.py checks it against the paper's algorithm
written out on a quadratic.
Caveats: with a tuned schedule the gain is often small; evaluate the slow weights (they are the
model after each synchronisation); the inner optimizer's state (momentum) is kept, not reset.
Book: book/optim/averaging.ipynb
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch

from accel_lib.core import Technique

__all__ = ["lookahead_sync", "Lookahead"]


@torch.no_grad()
def lookahead_sync(slow: list, fast: list, alpha: float) -> None:
    """``slow <- slow + alpha * (fast - slow)``; then ``fast <- slow`` (in place)."""
    for s, f in zip(slow, fast):
        s.lerp_(f.detach(), alpha)
        f.copy_(s)


@dataclass(eq=False)
class Lookahead(Technique):
    """Lookahead on top of any optimizer, acting after every ``k``-th optimizer step."""

    k: int = 5
    alpha: float = 0.5

    def __post_init__(self) -> None:
        if not isinstance(self.k, int) or self.k < 1:
            raise ValueError(f"k (fast steps per sync) must be a positive integer, got {self.k!r}.")
        if not 0 < self.alpha <= 1:
            raise ValueError(f"alpha (slow step size) must be in (0, 1], got {self.alpha!r}.")
        self.slow: Optional[list] = None

    def on_start(self, state) -> None:
        if self.slow is None:
            self.slow = [p.detach().clone() for p in state.model.parameters()]

    def after_step(self, state) -> None:
        if state.counters.step % self.k == 0:
            lookahead_sync(self.slow, list(state.model.parameters()), self.alpha)

    def state_dict(self) -> dict:
        return {"slow": self.slow}

    def load_state_dict(self, state: dict) -> None:
        self.slow = [s.clone() for s in state["slow"]] if state["slow"] is not None else None
