"""Training budgets: how much training a run may spend, and how far it has come (progress in [0, 1]).

A :class:`Budget` is measured in one unit: ``steps``, ``epochs``, ``samples``, ``seconds`` or
``flops``. Every schedule and technique reads progress from the budget, so changing the unit (say,
from 10 epochs to 5 minutes) rescales the whole run without touching a technique.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Optional

__all__ = ["Budget", "Counters", "UNITS"]

UNITS = ("steps", "epochs", "samples", "seconds", "flops")
_FIELD = {"steps": "step", "epochs": "epoch", "samples": "samples", "seconds": "seconds", "flops": "flops"}


@dataclass
class Counters:
    """What a run has spent so far. The loop updates it after every optimizer step."""

    step: int = 0          # optimizer steps taken
    epoch: float = 0.0     # fractional epochs seen (samples / dataset size)
    samples: int = 0       # training examples consumed
    seconds: float = 0.0   # training wall time (evaluation excluded)
    flops: float = 0.0     # training FLOPs (forward + backward) counted or estimated


@dataclass
class Budget:
    """A training budget in one unit.

    Args:
        amount: how much may be spent (> 0).
        unit: one of ``steps``, ``epochs``, ``samples``, ``seconds``, ``flops``.
        clock: the clock for ``seconds`` budgets (injectable for tests); default ``time.perf_counter``.

    ``progress(counters)`` is the fraction spent, clipped to [0, 1]; ``exhausted(counters)`` is
    true once the fraction reaches 1. A loop checks it before every step, so a run never overshoots
    by more than one step.
    """

    amount: float
    unit: str = "steps"
    clock: Callable[[], float] = field(default=time.perf_counter, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise ValueError(f"unknown budget unit {self.unit!r}; use one of {', '.join(UNITS)}.")
        if not isinstance(self.amount, (int, float)) or not self.amount > 0:
            raise ValueError(f"a budget must be a positive number of {self.unit}, got {self.amount!r}.")

    def spent(self, c: Counters) -> float:
        return float(getattr(c, _FIELD[self.unit]))

    def progress(self, c: Counters) -> float:
        return min(1.0, max(0.0, self.spent(c) / float(self.amount)))

    def exhausted(self, c: Counters) -> bool:
        return self.spent(c) >= self.amount

    def total_steps(self, batch_size: int, dataset_size: Optional[int] = None,
                    flops_per_sample: Optional[float] = None) -> Optional[int]:
        """The number of optimizer steps this budget allows, when the unit makes that knowable
        in advance (``None`` for ``seconds``)."""
        if batch_size <= 0:
            raise ValueError("batch_size must be positive.")
        if self.unit == "steps":
            return int(self.amount)
        if self.unit == "samples":
            return int(-(-self.amount // batch_size))
        if self.unit == "epochs":
            if not dataset_size:
                raise ValueError("an epochs budget needs dataset_size to count steps.")
            return int(-(-(self.amount * dataset_size) // batch_size))
        if self.unit == "flops":
            if not flops_per_sample:
                raise ValueError("a flops budget needs flops_per_sample to count steps.")
            return int(-(-self.amount // (flops_per_sample * batch_size)))
        return None

    def __str__(self) -> str:
        return f"{self.amount:g} {self.unit}"
