"""Checkers for the budgeted-training exercises (``book/budget/*.ipynb``)."""
from __future__ import annotations

import math
from typing import Callable

__all__ = ["check_linear_to_zero", "check_rex", "check_warmup_schedule", "check_steps_for_seconds",
           "check_tokens_for_budget", "check_halving_rungs"]

_GRID = [i / 64 for i in range(65)]


def _close(a: float, b: float, tol: float = 1e-9) -> bool:
    return abs(float(a) - float(b)) <= tol * max(1.0, abs(float(b)))


def check_linear_to_zero(fn: Callable[[float], float]) -> bool:
    """``fn(p)`` must equal the budget-aware linear schedule at every progress ``p`` in [0, 1]."""
    from accel_lib.budget.schedules import linear_to_zero
    for p in _GRID:
        assert _close(fn(p), linear_to_zero(p)), (
            f"at progress {p:.3f} you return {fn(p)!r}, expected {linear_to_zero(p)!r}: the multiplier "
            "starts at 1 and reaches 0 exactly at the end of the budget.")
    return True


def check_rex(fn: Callable[[float], float]) -> bool:
    """``fn(p)`` must equal the REX profile with beta = 0.5."""
    from accel_lib.budget.schedules import rex
    for p in _GRID:
        assert _close(fn(p), rex(p)), (f"at progress {p:.3f} you return {fn(p)!r}, expected {rex(p)!r}: "
                                       "REX is (1 - p) / (0.5 + 0.5 (1 - p)).")
    return True


def check_warmup_schedule(fn: Callable[[float, float], float]) -> bool:
    """``fn(p, warmup)``: linear warmup over the first ``warmup`` fraction, then linear decay to 0
    over the rest."""
    from accel_lib.budget.schedules import linear_to_zero, with_warmup
    for w in (0.0, 0.1, 0.25):
        ref = with_warmup(linear_to_zero, w)
        for p in _GRID:
            assert _close(fn(p, w), ref(p)), (
                f"warmup={w}, progress {p:.3f}: you return {fn(p, w)!r}, expected {ref(p)!r}. Rise "
                "linearly from 0 to 1 over the warmup, then decay linearly over the remaining 1 - warmup.")
    return True


def check_steps_for_seconds(fn: Callable[[float, float, int], int]) -> bool:
    """``fn(seconds, samples_per_second, batch_size)`` -> optimizer steps a wall-clock budget buys
    (rounded up, as the planner does)."""
    from accel_lib.budget.planner import plan_budget
    from accel_lib.core import Budget
    for s, sps, bs in ((10, 1000.0, 64), (60, 123.4, 32), (1, 640.0, 64), (3600, 205.0, 128)):
        want = plan_budget(Budget(s, "seconds"), batch_size=bs, samples_per_second=sps).steps
        got = fn(s, sps, bs)
        assert got == want, (f"{s} s at {sps} samples/s with batch {bs}: you say {got} steps, expected {want} "
                             "(seconds x samples/s / batch, rounded up: the loop stops after the step that "
                             "crosses the budget).")
    return True


def check_tokens_for_budget(fn: Callable) -> bool:
    """``fn(flop_budget, cfg)`` -> tokens a GPT of config ``cfg`` trains on within the budget."""
    from accel_lib.budget.compute_optimal import tokens_for_budget
    from accel_lib.core import GPTConfig
    for c in (GPTConfig(block_size=64, n_layer=2, n_head=2, n_embd=64),
              GPTConfig(block_size=128, n_layer=4, n_head=4, n_embd=128)):
        for f in (1e12, 3e13):
            want, got = tokens_for_budget(f, c), fn(f, c)
            assert math.isclose(got, want, rel_tol=1e-6), (
                f"{f:.0e} FLOPs, {c.n_layer}x{c.n_embd}: you say {got:.4g} tokens, expected {want:.4g}. "
                "Divide the budget by the training FLOPs per token (use flops_per_token).")
    return True


def check_halving_rungs(fn: Callable[[int, float, int], list]) -> bool:
    """``fn(n, min_resource, eta)`` -> list of ``(configs alive, resource each)`` per rung."""
    from accel_lib.budget.halving import halving_rungs
    for args in ((9, 1, 3), (27, 2, 3), (10, 1, 2), (1, 5, 3), (20, 1, 4)):
        want, got = halving_rungs(*args), [tuple(r) for r in fn(*args)]
        assert got == want, (f"halving_rungs{args}: you return {got}, expected {want}. Keep n // eta "
                             "configurations (at least 1) and multiply the resource by eta, until one is left.")
    return True
