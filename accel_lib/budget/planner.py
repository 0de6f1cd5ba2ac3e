"""Budget planner: turn a budget (steps, epochs, samples, seconds or FLOPs) and a measured device
throughput into steps, epochs, samples, seconds and FLOPs, with the schedule it implies.

Speeds up: planning, not training: it tells you before a run how far a budget goes on your device,
and flags budgets too small to warm up, so that no run is wasted on a schedule that cannot finish.
Paper: Li, Yumer and Ramanan, ICLR 2020 (budgets as a fraction of a full schedule).
Reference: none (arithmetic; tests/budget/test_planner.py checks it against ``Budget.total_steps``
and against the steps a real run takes).
Caveats: a wall-clock plan is only as good as the throughput it is given: measure it on the same
device, model and batch size (``measure_throughput``), after warmup; evaluation time is not counted.
Book: book/budget/schedules.ipynb
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Optional

import torch
from torch import nn

from accel_lib.core import Budget, UNITS, default_loss, time_fn

from .schedules import SCHEDULES, budget_schedule

__all__ = ["Plan", "plan_budget", "measure_throughput", "plot_plan", "planner_widget"]


@dataclass
class Plan:
    """What a budget buys on a device. All amounts are for the whole run."""

    budget: str
    steps: int
    epochs: Optional[float]
    samples: int
    seconds: Optional[float]
    flops: Optional[float]
    warmup_steps: int
    schedule: str
    too_small_to_warm_up: bool
    warnings: list = field(default_factory=list)

    def lr_curve(self, points: int = 200) -> tuple:
        """``(steps, multipliers)`` of the planned schedule, one value per plotted point."""
        fn = self.schedule_fn()
        xs = [self.steps * i / (points - 1) for i in range(points)]
        return xs, [fn(min(1.0, x / self.steps)) for x in xs]

    def schedule_fn(self) -> Callable[[float], float]:
        warm = min(self.warmup_steps, self.steps - 1) / self.steps if self.steps > 1 else 0.0
        return budget_schedule(self.schedule, None, warm)

    def summary(self) -> str:
        parts = [f"budget {self.budget}: {self.steps:,} steps", f"{self.samples:,} samples"]
        if self.epochs is not None:
            parts.append(f"{self.epochs:.2f} epochs")
        if self.seconds is not None:
            parts.append(f"{self.seconds:.1f} s")
        if self.flops is not None:
            parts.append(f"{self.flops:.3g} FLOPs")
        parts.append(f"warmup {self.warmup_steps} steps, schedule {self.schedule}")
        return ", ".join(parts) + "".join(f"\nWARNING: {w}" for w in self.warnings)


def plan_budget(budget: Budget, *, batch_size: int, samples_per_second: Optional[float] = None,
                dataset_size: Optional[int] = None, flops_per_sample: Optional[float] = None,
                warmup_steps: int = 0, schedule: str = "linear", min_steps_after_warmup: int = 10) -> Plan:
    """Plan a run.

    Args:
        budget: the budget, in any unit of :data:`~accel_lib.core.UNITS`.
        batch_size: examples per optimizer step.
        samples_per_second: training throughput on the device (needed for a ``seconds`` budget, and
            to predict the duration of the others).
        dataset_size: examples per epoch (needed for ``epochs`` budgets, and to report epochs).
        flops_per_sample: training FLOPs per example (needed for ``flops`` budgets).
        warmup_steps: linear warmup length in optimizer steps.
        schedule: the shape after warmup (see :data:`~accel_lib.budget.schedules.SCHEDULES`).
        min_steps_after_warmup: fewer steps than this after warmup raise a warning.

    The plan flags ``too_small_to_warm_up`` when the budget does not cover the warmup plus
    ``min_steps_after_warmup`` steps; it does not raise, so that a widget can show the problem.
    """
    if not isinstance(budget, Budget):
        raise TypeError(f"budget must be an accel_lib.core.Budget, got {type(budget).__name__}; "
                        "e.g. Budget(5, 'epochs').")
    if budget.unit not in UNITS:  # pragma: no cover - Budget already checks
        raise ValueError(f"unknown unit {budget.unit!r}.")
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    if samples_per_second is not None and not samples_per_second > 0:
        raise ValueError(f"samples_per_second must be positive, got {samples_per_second!r}; measure it "
                         "with measure_throughput().")
    if warmup_steps < 0:
        raise ValueError(f"warmup_steps must be >= 0, got {warmup_steps!r}.")
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; use one of {', '.join(SCHEDULES)}.")
    if budget.unit == "seconds":
        if samples_per_second is None:
            raise ValueError("a seconds budget needs samples_per_second (measure it with measure_throughput()).")
        steps = int(math.ceil(budget.amount * samples_per_second / batch_size))
    else:
        steps = budget.total_steps(batch_size, dataset_size, flops_per_sample)
    steps = max(1, steps)
    samples = steps * batch_size
    epochs = samples / dataset_size if dataset_size else None
    seconds = samples / samples_per_second if samples_per_second else None
    flops = samples * flops_per_sample if flops_per_sample else None
    warnings = []
    small = steps < warmup_steps + min_steps_after_warmup
    if steps <= warmup_steps:
        warnings.append(f"the budget gives {steps} steps but warmup needs {warmup_steps}: the run would end "
                        "before the LR reaches its peak; shorten the warmup or raise the budget.")
    elif small:
        warnings.append(f"only {steps - warmup_steps} steps remain after a {warmup_steps}-step warmup "
                        f"(fewer than {min_steps_after_warmup}); shorten the warmup or raise the budget.")
    return Plan(str(budget), steps, epochs, samples, seconds, flops, int(warmup_steps), schedule, small, warnings)


def measure_throughput(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, lr: float = 0.0,
                       repeats: int = 5, warmup: int = 2, loss_fn: Callable = default_loss) -> float:
    """Training samples per second of ``model`` on batch ``(x, y)``: forward, backward and an SGD
    step, median of ``repeats`` after ``warmup`` untimed steps. ``lr=0`` leaves the weights as
    they were (the optimizer step still runs)."""
    opt = torch.optim.SGD(model.parameters(), lr=lr)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).mean().backward()
        opt.step()
    dev = next(model.parameters()).device
    t = time_fn(step, warmup=warmup, repeats=repeats, device=dev)
    return x.shape[0] / t.median


def plot_plan(plan: Plan, ax=None):
    """Draw the planned LR multiplier against steps, marking warmup and the budget's end."""
    import matplotlib.pyplot as plt
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3))
    xs, ys = plan.lr_curve()
    ax.plot(xs, ys, label=plan.schedule)
    if plan.warmup_steps:
        ax.axvline(plan.warmup_steps, color="gray", ls=":", label="end of warmup")
    ax.axvline(plan.steps, color="k", ls="--", label="budget")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("LR / peak LR")
    ax.set_title(plan.summary().split("\n")[0], fontsize=8)
    ax.legend(fontsize=8)
    return ax


def planner_widget(batch_size: int = 256, samples_per_second: float = 1000.0, dataset_size: int = 50_000,
                   flops_per_sample: Optional[float] = None):
    """An ipywidgets explorer over :func:`plan_budget` (needs ipywidgets and a live kernel).
    Returns the widget; the static book shows :func:`plot_plan` of the same function instead."""
    import ipywidgets as w
    import matplotlib.pyplot as plt
    from IPython.display import display
    units = [u for u in UNITS if u != "flops" or flops_per_sample]
    amount = w.FloatLogSlider(value=5, base=10, min=-1, max=5, step=0.05, description="budget")
    unit = w.Dropdown(options=units, value="epochs", description="unit")
    bs = w.IntSlider(value=batch_size, min=8, max=2048, step=8, description="batch")
    sps = w.FloatLogSlider(value=samples_per_second, base=10, min=1, max=6, description="samples/s")
    warm = w.IntSlider(value=50, min=0, max=2000, description="warmup")
    sched = w.Dropdown(options=list(SCHEDULES), value="linear", description="schedule")
    out = w.Output()

    def redraw(*_):
        with out:
            out.clear_output(wait=True)
            plan = plan_budget(Budget(amount.value, unit.value), batch_size=bs.value,
                               samples_per_second=sps.value, dataset_size=dataset_size,
                               flops_per_sample=flops_per_sample, warmup_steps=warm.value, schedule=sched.value)
            print(plan.summary())
            plot_plan(plan)
            plt.show()
    for c in (amount, unit, bs, sps, warm, sched):
        c.observe(redraw, names="value")
    redraw()
    box = w.VBox([w.HBox([amount, unit, bs]), w.HBox([sps, warm, sched]), out])
    display(box)
    return box
