import pytest

from accel_lib.optim.linear_scaling import scaled_lr, scaled_schedule
from accel_lib.optim.schedules import sample


def test_closed_forms():
    assert scaled_lr(0.1, 256, 8192) == pytest.approx(3.2)          # Goyal et al.: 0.1 x 8k/256
    assert scaled_lr(1e-3, 64, 1024, rule="sqrt") == pytest.approx(4e-3)
    assert scaled_lr(0.1, 128, 128) == 0.1                           # identity


def test_warmup_then_decay():
    m = sample(scaled_schedule(100, warmup_steps=10, start=0.1), 100)
    assert m[0] == pytest.approx(0.1) and m[10] == pytest.approx(1.0)
    assert all(a < b for a, b in zip(m[:10], m[1:11]))               # climbs during warmup
    assert all(a >= b for a, b in zip(m[10:], m[11:]))               # then decays


@pytest.mark.parametrize("bad", [lambda: scaled_lr(-0.1, 64, 128), lambda: scaled_lr(0.1, 0, 128),
                                 lambda: scaled_lr(0.1, 64, 128, rule="cube"),
                                 lambda: scaled_schedule(100, warmup_steps=150)])
def test_bad_arguments(bad):
    with pytest.raises(ValueError, match="must|does not fit"):
        bad()
