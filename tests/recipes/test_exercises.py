"""The capstone exercise checkers accept the library's answers and reject wrong ones with a hint."""
from __future__ import annotations

import pytest
import torch

from accel_lib.exercises import capstone as ex
from accel_lib.recipes.speedrun import whitening_filters


def test_checkers_accept_the_reference():
    assert ex.check_whitening_filters(lambda x: whitening_filters(x, eps=1e-9)[:12])
    assert ex.check_interaction(lambda f, a, b, ab: 100 * ((f - ab) - (f - a) - (f - b)))


def test_checkers_reject_wrong_answers():
    with pytest.raises(AssertionError, match="covariance"):
        ex.check_whitening_filters(lambda x: whitening_filters(x, eps=1e-9)[:12] * 2)
    with pytest.raises(AssertionError, match="shape"):
        ex.check_whitening_filters(lambda x: whitening_filters(x))
    with pytest.raises(AssertionError, match="interaction"):
        ex.check_interaction(lambda f, a, b, ab: 100 * (f - ab))
