"""Linear scaling rule: when the batch grows k-fold, grow the learning rate k-fold, with a warmup.

Speeds up: wall-clock per epoch, by letting a k-times larger batch (k times fewer, better
parallelised steps) reach the accuracy of the small batch with the same number of epochs.
Paper: Goyal et al., "Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour", 2017
(square-root scaling for adaptive optimizers: Krizhevsky, 2014; Malladi et al., 2022).
Reference: none (a closed form); tests/optim/test_linear_scaling.py.
Caveats: holds while the batch is below the critical batch size (see ``noise_scale``); beyond it
the LR the rule asks for diverges or stops helping, and LARS/LAMB or more epochs are needed. The
warmup matters: the scaled LR is too large for the first steps of a freshly initialised net.
Book: book/optim/large_batch.ipynb
"""
from __future__ import annotations

from typing import Optional

from ._checks import check_lr
from .schedules import Schedule, cosine, warmup_fraction, with_warmup

__all__ = ["scaled_lr", "scaled_schedule"]


def scaled_lr(base_lr: float, base_batch: int, batch: int, rule: str = "linear") -> float:
    """The learning rate for ``batch`` given one tuned at ``base_batch``: ``lr * k`` (linear, for
    SGD) or ``lr * sqrt(k)`` (sqrt, for Adam-type optimizers), with ``k = batch / base_batch``."""
    check_lr(base_lr)
    if base_batch < 1 or batch < 1:
        raise ValueError(f"batch sizes must be positive, got {base_batch!r} and {batch!r}.")
    k = batch / base_batch
    if rule == "linear":
        return base_lr * k
    if rule == "sqrt":
        return base_lr * k ** 0.5
    raise ValueError(f"rule must be 'linear' or 'sqrt', got {rule!r}.")


def scaled_schedule(total_steps: int, warmup_steps: Optional[int] = None, base: Optional[Schedule] = None,
                    start: float = 0.0) -> Schedule:
    """Goyal et al.'s gradual warmup in front of ``base`` (default cosine): the LR climbs linearly
    from ``start`` x to 1 x the scaled LR over ``warmup_steps`` (default 5% of the run)."""
    if warmup_steps is None:
        warmup_steps = max(1, total_steps // 20)
    return with_warmup(base or cosine(), warmup_fraction(warmup_steps, total_steps), start)
