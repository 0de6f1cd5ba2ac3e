"""The budget sweep's bookkeeping (on random images: mechanics only, no accuracy claims)."""
from __future__ import annotations

import pytest

from accel_lib.budget.sweep import best_by_fraction, budget_sweep, plot_sweep, sweep_table
from accel_lib.core import ImageData

import torch


@pytest.fixture(scope="module")
def data():
    g = torch.Generator().manual_seed(0)
    x, xt = (torch.randint(0, 256, (n, 3, 16, 16), dtype=torch.uint8, generator=g) for n in (64, 32))
    y, yt = (torch.randint(0, 10, (n,), generator=g) for n in (64, 32))
    return ImageData(x, y, xt, yt, tuple(str(i) for i in range(10)), "random (tests only)")


def test_sweep_spends_each_fraction(data):
    recs = budget_sweep(data, 2.0, fractions=(0.25, 1.0), schedules=("step", "linear"), widths=(4, 4, 4),
                        batch_size=16, device="cpu")
    assert len(recs) == 4
    for r in recs:
        assert r["epochs"] == pytest.approx(r["fraction"] * 2.0)   # 4 batches of 16 per epoch
        assert r["steps"] == round(r["fraction"] * 8)
        assert 0.0 <= r["accuracy"] <= 1.0
    best = best_by_fraction(recs)
    assert set(best) == {0.25, 1.0}
    table = sweep_table(recs)
    assert table.count("*") == 2 and "25%" in table and "100%" in table
    import matplotlib
    matplotlib.use("Agg")
    ax = plot_sweep(recs)
    assert len(ax.get_lines()) == 2


def test_errors(data):
    with pytest.raises(ValueError, match="fractions"):
        budget_sweep(data, 1.0, fractions=(0.0,))
    with pytest.raises(ValueError, match="unknown schedule"):
        budget_sweep(data, 1.0, schedules=("onecycle",))
    with pytest.raises(ValueError, match="base_epochs"):
        budget_sweep(data, -1.0)


def test_downsample(data):
    from accel_lib.budget.sweep import downsample
    small = downsample(data, 8)
    assert small.train_x.shape == (64, 3, 8, 8) and small.train_x.dtype == torch.uint8
    ref = torch.nn.functional.avg_pool2d(data.test_x[:1].float(), 2).round()
    assert torch.equal(small.test_x[:1].float(), ref)
    assert torch.equal(small.train_y, data.train_y) and "8x8" in small.source
    assert downsample(data, 16) is data
    with pytest.raises(ValueError, match="divide"):
        downsample(data, 5)
