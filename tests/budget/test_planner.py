"""The budget planner: arithmetic against Budget.total_steps and against real runs, warmup flags,
the plot and widget over the same function, and errors."""
from __future__ import annotations

import pytest
import torch

from accel_lib.budget.planner import measure_throughput, plan_budget, plot_plan, planner_widget
from accel_lib.core import Budget, train

from ._helpers import tiny_setup


def test_units_give_the_expected_steps():
    assert plan_budget(Budget(100, "steps"), batch_size=32).steps == 100
    p = plan_budget(Budget(2, "epochs"), batch_size=100, dataset_size=1000, samples_per_second=500.0)
    assert (p.steps, p.samples, p.epochs, p.seconds) == (20, 2000, 2.0, 4.0)
    p = plan_budget(Budget(10, "seconds"), batch_size=64, samples_per_second=1000.0)
    assert p.steps == 157 and p.seconds == pytest.approx(157 * 64 / 1000)   # ceil(10000 / 64)
    p = plan_budget(Budget(1e9, "flops"), batch_size=10, flops_per_sample=1e6)
    assert p.steps == 100 and p.flops == pytest.approx(1e9)
    for b in (Budget(3.3, "epochs"), Budget(1001, "samples")):
        assert plan_budget(b, batch_size=64, dataset_size=5000).steps == b.total_steps(64, 5000)


@pytest.mark.parametrize("budget", [Budget(1.5, "epochs"), Budget(44, "samples"), Budget(7, "steps")])
def test_plan_predicts_a_real_run(budget):
    model, loader = tiny_setup(n=32, batch=8)
    plan = plan_budget(budget, batch_size=8, dataset_size=loader.num_samples)
    st = train(model, loader, budget=budget, optimizer=lambda p: torch.optim.SGD(p, lr=0.1), log_every=0)
    assert st.counters.step == plan.steps
    assert st.counters.samples == plan.samples


def test_warmup_flags():
    ok = plan_budget(Budget(100, "steps"), batch_size=8, warmup_steps=20)
    assert not ok.too_small_to_warm_up and ok.warnings == []
    short = plan_budget(Budget(25, "steps"), batch_size=8, warmup_steps=20)
    assert short.too_small_to_warm_up and "only 5 steps remain" in short.warnings[0]
    none = plan_budget(Budget(1, "seconds"), batch_size=64, samples_per_second=640.0, warmup_steps=50)
    assert none.steps == 10 and none.too_small_to_warm_up
    assert "warmup needs 50" in none.warnings[0] and "WARNING" in none.summary()


def test_lr_curve_starts_at_zero_with_warmup_and_ends_at_zero():
    p = plan_budget(Budget(200, "steps"), batch_size=8, warmup_steps=20, schedule="cosine")
    xs, ys = p.lr_curve(points=201)
    assert ys[0] == 0.0 and ys[20] == pytest.approx(1.0) and ys[-1] == pytest.approx(0.0, abs=1e-12)
    assert xs[-1] == 200


def test_plot_and_widget_wrap_the_same_function():
    import matplotlib
    matplotlib.use("Agg")
    p = plan_budget(Budget(5, "epochs"), batch_size=128, dataset_size=10_000, warmup_steps=30)
    ax = plot_plan(p)
    line = ax.get_lines()[0]
    assert list(line.get_ydata()) == pytest.approx(p.lr_curve()[1])
    pytest.importorskip("ipywidgets")
    box = planner_widget(batch_size=128, samples_per_second=500.0, dataset_size=10_000)
    assert len(box.children) == 3


def test_measure_throughput_leaves_weights_alone():
    model, _ = tiny_setup()
    before = [p.detach().clone() for p in model.parameters()]
    x, y = torch.randn(16, 3, 8, 8), torch.randint(0, 10, (16,))
    sps = measure_throughput(model, x, y, repeats=2, warmup=1)
    assert sps > 0
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_errors():
    with pytest.raises(ValueError, match="needs samples_per_second"):
        plan_budget(Budget(10, "seconds"), batch_size=8)
    with pytest.raises(ValueError, match="needs dataset_size"):
        plan_budget(Budget(1, "epochs"), batch_size=8)
    with pytest.raises(ValueError, match="needs flops_per_sample"):
        plan_budget(Budget(1e9, "flops"), batch_size=8)
    with pytest.raises(ValueError, match="batch_size"):
        plan_budget(Budget(10, "steps"), batch_size=0)
    with pytest.raises(ValueError, match="measure it"):
        plan_budget(Budget(10, "steps"), batch_size=8, samples_per_second=-3.0)
    with pytest.raises(ValueError, match="unknown schedule"):
        plan_budget(Budget(10, "steps"), batch_size=8, schedule="warm-restarts")
    with pytest.raises(TypeError, match="Budget"):
        plan_budget(10, batch_size=8)
    with pytest.raises(ValueError, match="warmup_steps"):
        plan_budget(Budget(10, "steps"), batch_size=8, warmup_steps=-1)
