"""Budget-aware learning-rate schedules: shapes that reach their end exactly when the budget runs out.

Speeds up: time-to-accuracy under a fixed budget, because a schedule that decays to zero at the
budget's end (linear-to-zero, REX) lands the weights in a low-noise minimum however short the run is,
whereas a schedule tuned for a long run is cut off at a high learning rate.
Paper: Li, Yumer and Ramanan, "Budgeted Training: Rethinking Deep Neural Network Training Under
Resource Constraints", ICLR 2020; Chen, Wolfe and Kyrillidis, "REX: Revisiting Budgeted Training with
an Improved Schedule", MLSys 2022.
Reference: ``torch.optim.lr_scheduler.LinearLR``, ``CosineAnnealingLR``, ``MultiStepLR`` and
``LinearLR`` warmup (tests/budget/test_schedules.py::test_matches_torch_schedulers); REX has no
built-in and is checked against its closed form.
Caveats: every schedule here is a function of *progress* in [0, 1], read from the
:class:`~accel_lib.core.Budget`; with a wall-clock budget the LR follows the clock, so a slow step
(a hiccup of the machine) moves the schedule on. Warmup must be shorter than the budget.
Book: book/budget/schedules.ipynb
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

from accel_lib.core import Budget, Technique

__all__ = ["constant", "step_decay", "cosine", "linear_to_zero", "rex", "SCHEDULES", "with_warmup",
           "budget_schedule", "BudgetSchedule"]


def _check_progress(p: float) -> float:
    p = float(p)
    if not (0.0 <= p <= 1.0) or math.isnan(p):
        raise ValueError(f"progress must be in [0, 1], got {p!r}; read it from Budget.progress().")
    return p


# --- the shapes: pure functions of progress p in [0, 1] -> multiplier of the initial LR ------------
def constant(p: float) -> float:
    """No decay: 1 everywhere (the baseline that ignores the budget)."""
    _check_progress(p)
    return 1.0


def step_decay(p: float, milestones: Sequence[float] = (0.5, 0.75), gamma: float = 0.1) -> float:
    """Piecewise constant: multiply by ``gamma`` at each milestone (fractions of the budget).
    The classic ResNet schedule (x0.1 at 50% and 75%), rescaled to the budget."""
    p = _check_progress(p)
    return gamma ** sum(p >= m for m in milestones)


def cosine(p: float, final: float = 0.0) -> float:
    """Half a cosine from 1 down to ``final`` at p = 1 (Loshchilov and Hutter's annealing, no restarts)."""
    p = _check_progress(p)
    return final + (1.0 - final) * 0.5 * (1.0 + math.cos(math.pi * p))


def linear_to_zero(p: float) -> float:
    """``1 - p``: the budget-aware linear schedule of Li et al. (2020); it reaches 0 at the budget."""
    p = _check_progress(p)
    return 1.0 - p


def rex(p: float, beta: float = 0.5) -> float:
    """REX (Chen et al., 2022): ``(1 - p) / ((1 - beta) + beta (1 - p))``.

    With ``beta = 0.5`` (the paper's profile) it stays above linear decay for most of the run and
    drops to 0 at the end; ``beta = 0`` is linear decay, ``beta -> 1`` approaches a constant LR with a
    drop at the very end."""
    p = _check_progress(p)
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"REX needs 0 <= beta < 1, got {beta!r} (0.5 is the paper's profile).")
    z = 1.0 - p
    return z / ((1.0 - beta) + beta * z)


SCHEDULES: dict = {"constant": constant, "step": step_decay, "cosine": cosine, "linear": linear_to_zero,
                   "rex": rex}


def with_warmup(schedule: Callable[[float], float], warmup: float) -> Callable[[float], float]:
    """Linear warmup from 0 over the first ``warmup`` fraction of the budget, then ``schedule``
    rescaled to the remaining ``1 - warmup`` (so it still ends exactly at the budget)."""
    if not 0.0 <= warmup < 1.0:
        raise ValueError(f"warmup must be a fraction in [0, 1) of the budget, got {warmup!r}.")

    def f(p: float) -> float:
        p = _check_progress(p)
        if warmup > 0 and p < warmup:
            return p / warmup
        return schedule((p - warmup) / (1.0 - warmup))
    f.__name__ = f"{getattr(schedule, '__name__', 'schedule')}_with_warmup"
    return f


def budget_schedule(name: str, budget: Optional[Budget] = None, warmup: float = 0.0,
                    **kwargs: float) -> Callable[[float], float]:
    """A schedule by name, ready for ``train(lr_schedule=...)``.

    Args:
        name: one of ``constant``, ``step``, ``cosine``, ``linear``, ``rex``.
        budget: when given, ``warmup`` is in the budget's unit (e.g. 5 seconds of a 60-second
            budget, 100 steps of 1000); otherwise ``warmup`` is a fraction of the budget.
        kwargs: extra arguments of the shape (``milestones``, ``gamma``, ``final``, ``beta``).

    Raises ``ValueError`` for an unknown name, a negative warmup, or a budget not longer than its
    warmup (no time would be left to train at the peak LR and decay).
    """
    if name not in SCHEDULES:
        raise ValueError(f"unknown schedule {name!r}; use one of {', '.join(SCHEDULES)}.")
    if warmup < 0:
        raise ValueError(f"warmup must be >= 0, got {warmup!r}.")
    if budget is not None:
        if warmup >= budget.amount:
            raise ValueError(f"the budget ({budget}) is not longer than its warmup ({warmup:g} {budget.unit}): "
                             "shorten the warmup (a few percent of the budget is typical) or raise the budget.")
        frac = warmup / float(budget.amount)
    else:
        if warmup >= 1:
            raise ValueError(f"without a budget, warmup is a fraction of it and must be < 1, got {warmup!r}; "
                             "pass budget= to give warmup in the budget's unit.")
        frac = warmup
    shape = SCHEDULES[name]
    if kwargs:
        base = shape

        def shape(p: float, _b=base, _kw=kwargs) -> float:  # noqa: F811 - bind the extra arguments
            return _b(p, **_kw)
        shape.__name__ = base.__name__
    return with_warmup(shape, frac) if frac > 0 else shape


@dataclass
class BudgetSchedule(Technique):
    """Set every parameter group's LR to ``initial_lr * schedule(progress)`` before each step.

    The same thing as passing ``lr_schedule=budget_schedule(name, ...)`` to ``train``; the technique
    form composes with other techniques in a list. ``warmup`` is a fraction of the budget.
    """

    schedule: str = "linear"
    warmup: float = 0.0
    beta: float = 0.5

    def __post_init__(self) -> None:
        kw = {"beta": self.beta} if self.schedule == "rex" else {}
        self._fn = budget_schedule(self.schedule, None, self.warmup, **kw)

    def on_batch(self, batch, state):
        mult = self._fn(state.progress)
        for g in state.optimizer.param_groups:
            g["lr"] = g["initial_lr"] * mult
        return batch
