"""The exercise checkers accept the library's answers and reject wrong ones with a hint."""
from __future__ import annotations

import math

import pytest

from accel_lib.budget import flops_per_token, halving_rungs, linear_to_zero, rex, with_warmup
from accel_lib.exercises import budget as ex


def test_checkers_accept_the_reference():
    assert ex.check_linear_to_zero(linear_to_zero)
    assert ex.check_rex(rex)
    assert ex.check_warmup_schedule(lambda p, w: with_warmup(linear_to_zero, w)(p))
    assert ex.check_steps_for_seconds(lambda s, sps, bs: math.ceil(s * sps / bs))
    assert ex.check_tokens_for_budget(lambda f, c: f / flops_per_token(c))
    assert ex.check_halving_rungs(halving_rungs)


def test_checkers_reject_wrong_answers():
    with pytest.raises(AssertionError, match="reaches 0"):
        ex.check_linear_to_zero(lambda p: 1 - 0.9 * p)
    with pytest.raises(AssertionError, match="REX"):
        ex.check_rex(lambda p: (1 - p) ** 2)
    with pytest.raises(AssertionError, match="warmup"):
        ex.check_warmup_schedule(lambda p, w: 1 - p)
    with pytest.raises(AssertionError, match="rounded up"):
        ex.check_steps_for_seconds(lambda s, sps, bs: int(s * sps / bs))
    with pytest.raises(AssertionError, match="flops_per_token"):
        ex.check_tokens_for_budget(lambda f, c: f / (6 * 12 * c.n_layer * c.n_embd ** 2))
    with pytest.raises(AssertionError, match="eta"):
        ex.check_halving_rungs(lambda n, r, eta: [(n, r)])
