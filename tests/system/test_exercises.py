"""The exercise checkers accept correct answers and reject wrong ones."""
import pytest
import torch

from accel_lib.exercises import system as ex


def test_scale_update_checker():
    def good(scale, tracker, inf, growth, backoff, interval):
        if inf:
            return scale * backoff, 0
        tracker += 1
        return (scale * growth, 0) if tracker == interval else (scale, tracker)

    def bad(scale, tracker, inf, growth, backoff, interval):
        return (scale * backoff, tracker) if inf else (scale, tracker)
    assert ex.check_scale_update(good)
    with pytest.raises(AssertionError, match="Hint"):
        ex.check_scale_update(bad)


def test_saved_bytes_checker():
    def good(depth, every, batch, width):
        ck = len(range(0, depth, every))
        return (ck + 2 * (depth - ck)) * batch * width * 4
    assert ex.check_saved_bytes_formula(good)
    with pytest.raises(AssertionError, match="Hint"):
        ex.check_saved_bytes_formula(lambda d, e, b, w: 2 * d * b * w * 4)


def test_graph_break_checker():
    assert ex.check_no_graph_breaks(lambda x: torch.where(x.sum() > 0, x * 2, -x))

    def breaking(x):
        return x * 2 if x.sum().item() > 0 else -x
    with pytest.raises(AssertionError, match="graph break"):
        ex.check_no_graph_breaks(breaking)


def test_sgd_foreach_checker():
    def good(ps, gs, bufs, lr, mom):
        torch._foreach_mul_(bufs, mom)
        torch._foreach_add_(bufs, gs)
        torch._foreach_add_(ps, bufs, alpha=-lr)
    assert ex.check_sgd_foreach(good)
    with pytest.raises(AssertionError, match="Hint"):
        ex.check_sgd_foreach(lambda ps, gs, bufs, lr, mom: torch._foreach_add_(ps, gs, alpha=-lr))
