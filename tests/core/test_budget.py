import pytest

from accel_lib.core import Budget, Counters


@pytest.mark.parametrize("unit,field,value", [
    ("steps", "step", 5), ("epochs", "epoch", 1.25), ("samples", "samples", 640),
    ("seconds", "seconds", 3.0), ("flops", "flops", 2e9)])
def test_progress_per_unit(unit, field, value):
    b = Budget(2 * value, unit)
    c = Counters()
    assert b.progress(c) == 0.0 and not b.exhausted(c)
    setattr(c, field, value)
    assert b.progress(c) == pytest.approx(0.5)
    setattr(c, field, 2 * value)
    assert b.progress(c) == 1.0 and b.exhausted(c)
    setattr(c, field, 3 * value)
    assert b.progress(c) == 1.0  # clipped


@pytest.mark.parametrize("amount", [0, -1, float("nan"), "10"])
def test_bad_amount(amount):
    with pytest.raises(ValueError, match="positive"):
        Budget(amount, "steps")


def test_unknown_unit():
    with pytest.raises(ValueError, match="unknown budget unit 'minutes'.*seconds"):
        Budget(5, "minutes")


def test_total_steps():
    assert Budget(10, "steps").total_steps(32) == 10
    assert Budget(100, "samples").total_steps(32) == 4
    assert Budget(2, "epochs").total_steps(32, dataset_size=100) == 7
    assert Budget(1e6, "flops").total_steps(10, flops_per_sample=1e4) == 10
    assert Budget(60, "seconds").total_steps(32) is None
    with pytest.raises(ValueError, match="dataset_size"):
        Budget(2, "epochs").total_steps(32)
