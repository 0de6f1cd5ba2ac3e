"""The chapter's exercise checkers accept correct answers and reject wrong ones."""
import pytest

from accel_lib.exercises import distributed as ex


def test_checkers_accept_correct_answers():
    assert ex.check_ring_bytes(lambda k, b, n: b * (n - 1) / n * (2 if k == "all_reduce" else 1))
    assert ex.check_bubble(lambda m, p: (p - 1) / (m + p - 1))
    assert ex.check_zero_memory(lambda s, P, n: P * (4 / (n if s >= 3 else 1) + 4 / (n if s >= 2 else 1)
                                                     + 8 / (n if s >= 1 else 1)))
    assert ex.check_column_shard(lambda lin, r, w: (lin.weight.chunk(w)[r], lin.bias.chunk(w)[r]))
    assert ex.check_ring_schedule(lambda r, s, n: ((r - s - 1) % n, (r - s - 2) % n))


def test_checkers_reject_wrong_answers():
    with pytest.raises(AssertionError, match="Hint"):
        ex.check_ring_bytes(lambda k, b, n: 2 * b)
    with pytest.raises(AssertionError, match="Hint"):
        ex.check_bubble(lambda m, p: (p - 1) / m)
    with pytest.raises(AssertionError, match="Hint"):
        ex.check_zero_memory(lambda s, P, n: 16 * P / n)
    with pytest.raises(AssertionError, match="Hint"):
        ex.check_column_shard(lambda lin, r, w: (lin.weight.chunk(w, 1)[r], lin.bias.chunk(w)[r]))
    with pytest.raises(AssertionError, match="Hint"):
        ex.check_ring_schedule(lambda r, s, n: ((r - s) % n, (r - s - 1) % n))
