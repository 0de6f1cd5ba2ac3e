"""Small fixtures shared by the budget tests: a fake clock and recording techniques."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from accel_lib.core import ImageLoader, Technique


class FakeClock:
    """A clock that moves only when told to (``advance``), or by ``per_call`` on every reading."""

    def __init__(self, per_call: float = 0.0) -> None:
        self.t, self.per_call = 0.0, per_call

    def __call__(self) -> float:
        self.t += self.per_call
        return self.t

    def advance(self, dt: float) -> None:
        self.t += dt


@dataclass
class Record(Technique):
    """Records progress and the LR of the first group before every step."""

    seen: list = field(default_factory=list)

    def on_batch(self, batch, state):
        self.seen.append((state.progress, state.optimizer.param_groups[0]["lr"], state.counters.seconds))
        return batch


@dataclass
class Tick(Technique):
    """Advances a FakeClock by ``dt(step)`` simulated seconds during every optimizer step."""

    clock: FakeClock = None
    dt: Callable[[int], float] = lambda i: 0.1

    def after_step(self, state):
        self.clock.advance(self.dt(state.counters.step))


def tiny_setup(n: int = 32, batch: int = 8, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (n, 3, 8, 8), dtype=torch.uint8, generator=g)
    y = torch.randint(0, 10, (n,), generator=g)
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 10))
    return model, ImageLoader(x, y, batch, seed=seed, device="cpu")
