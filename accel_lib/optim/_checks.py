"""Argument checks shared by the optimizers of this part (messages say what to do)."""
from __future__ import annotations


def check_lr(lr: float) -> None:
    if not isinstance(lr, (int, float)) or lr < 0:
        raise ValueError(f"learning rate must be >= 0, got {lr!r}; a negative LR climbs the loss.")


def check_beta(name: str, b: float) -> None:
    if not isinstance(b, (int, float)) or not 0.0 <= b < 1.0:
        raise ValueError(f"{name} must be in [0, 1) (a decay rate of a moving average), got {b!r}.")


def check_nonneg(name: str, v: float) -> None:
    if not isinstance(v, (int, float)) or v < 0:
        raise ValueError(f"{name} must be >= 0, got {v!r}.")
