"""Budget-aware schedules: equivalence with torch.optim.lr_scheduler, closed forms, the loop under a
time budget with an injected clock, and the error messages."""
from __future__ import annotations

import math

import pytest
import torch

from accel_lib.budget.schedules import (SCHEDULES, BudgetSchedule, budget_schedule, constant, cosine,
                                        linear_to_zero, rex, step_decay, with_warmup)
from accel_lib.core import Budget, train

from ._helpers import FakeClock, Record, Tick, tiny_setup

T = 40


def _torch_lrs(make_sched, steps=T, lr=0.1):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=lr)
    sched = make_sched(opt)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


@pytest.mark.parametrize("name,make", [
    ("linear", lambda o: torch.optim.lr_scheduler.LinearLR(o, start_factor=1.0, end_factor=0.0, total_iters=T)),
    ("cosine", lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=T, eta_min=0.0)),
    ("step", lambda o: torch.optim.lr_scheduler.MultiStepLR(o, milestones=[T // 2, 3 * T // 4], gamma=0.1)),
])
def test_matches_torch_schedulers(name, make):
    """The loop with a steps budget sets the same LR at every step as PyTorch's scheduler."""
    ref = _torch_lrs(make)
    model, loader = tiny_setup()
    rec = Record()
    train(model, loader, budget=Budget(T, "steps"), optimizer=lambda p: torch.optim.SGD(p, lr=0.1),
          lr_schedule=budget_schedule(name), techniques=[rec], log_every=0)
    got = [lr for _, lr, _ in rec.seen]
    assert len(got) == T
    assert max(abs(a - b) for a, b in zip(got, ref)) < 1e-9


def test_warmup_matches_torch_linear_warmup():
    """Warmup over W of T steps then linear decay equals SequentialLR(LinearLR up, LinearLR down)
    built to the same shape (PyTorch's LinearLR cannot start at exactly 0, so both start at 1/W)."""
    w = 8
    ref = _torch_lrs(lambda o: torch.optim.lr_scheduler.SequentialLR(o, [
        torch.optim.lr_scheduler.LinearLR(o, start_factor=1 / w, end_factor=1.0, total_iters=w - 1),
        torch.optim.lr_scheduler.LinearLR(o, start_factor=1.0, end_factor=0.0, total_iters=T - w + 1)],
        milestones=[w - 1]))
    f = with_warmup(linear_to_zero, (w - 1) / T)
    # ours starts at 0 at step 0; from step 1 on the two agree after re-indexing the warmup by one step
    ours = [0.1 * f(i / T) for i in range(T)]
    assert ours[0] == 0.0
    assert max(abs(a - b) for a, b in zip(ours[w - 1:], ref[w - 1:])) < 1e-9
    assert all(b > a for a, b in zip(ours[:w - 1], ours[1:w]))  # rises during warmup


def test_end_points():
    for name, f in SCHEDULES.items():
        assert f(0.0) == pytest.approx(1.0), name
    for f in (linear_to_zero, rex, cosine):
        assert f(1.0) == pytest.approx(0.0, abs=1e-12)
    assert step_decay(1.0) == pytest.approx(0.01)
    assert constant(0.7) == 1.0
    assert cosine(1.0, final=0.1) == pytest.approx(0.1)


def test_rex_closed_form():
    ps = [i / 100 for i in range(101)]
    assert all(rex(p, beta=0.0) == pytest.approx(linear_to_zero(p)) for p in ps)
    # the paper's profile (beta = 0.5): (1 - p) / (0.5 + 0.5 (1 - p)) = 2 (1 - p) / (2 - p)
    assert all(rex(p) == pytest.approx(2 * (1 - p) / (2 - p)) for p in ps)
    assert all(rex(p) >= linear_to_zero(p) for p in ps)        # spends longer at a high LR
    vals = [rex(p) for p in ps]
    assert all(b <= a for a, b in zip(vals, vals[1:]))          # monotone decreasing


def test_time_budget_progress_and_lr_follow_the_clock():
    """With a seconds budget and an injected clock, progress is the simulated time spent over the
    budget before every step, the LR is the schedule of that progress, and training stops at the
    budget, overshooting by less than one step."""
    clock = FakeClock()
    durations = [0.05 + 0.1 * ((7 * i) % 5) for i in range(1000)]   # uneven steps: 0.05 .. 0.45 s
    budget = Budget(3.0, "seconds", clock=clock)
    model, loader = tiny_setup()
    rec = Record()
    st = train(model, loader, budget=budget, optimizer=lambda p: torch.optim.SGD(p, lr=0.2),
               lr_schedule=budget_schedule("linear"), log_every=0,
               techniques=[rec, Tick(clock, lambda i: durations[i - 1])])
    spent = 0.0
    for i, (prog, lr, seconds) in enumerate(rec.seen):
        assert seconds == pytest.approx(spent)
        assert prog == pytest.approx(min(1.0, spent / 3.0))
        assert lr == pytest.approx(0.2 * (1 - prog))
        spent += durations[i]
    c = st.counters
    assert c.seconds == pytest.approx(spent)
    assert c.seconds >= 3.0 and c.seconds - 3.0 < durations[c.step - 1]   # overshoot < the last step
    assert c.seconds - durations[c.step - 1] < 3.0                          # it did not stop early
    assert st.progress == 1.0


def test_time_budget_warmup_in_seconds():
    clock = FakeClock()
    budget = Budget(2.0, "seconds", clock=clock)
    model, loader = tiny_setup()
    rec = Record()
    train(model, loader, budget=budget, optimizer=lambda p: torch.optim.SGD(p, lr=1.0),
          lr_schedule=budget_schedule("rex", budget, warmup=0.5), log_every=0,
          techniques=[rec, Tick(clock, lambda i: 0.1)])
    assert len(rec.seen) == 20
    for prog, lr, _ in rec.seen:
        expect = prog / 0.25 if prog < 0.25 else rex((prog - 0.25) / 0.75)
        assert lr == pytest.approx(expect)


def test_technique_form_equals_lr_schedule():
    runs = []
    for kw in ({"lr_schedule": budget_schedule("rex", None, 0.1)}, {"techniques": [BudgetSchedule("rex", 0.1)]}):
        model, loader = tiny_setup()
        rec = Record()
        kw = dict(kw)
        kw["techniques"] = list(kw.get("techniques", [])) + [rec]
        train(model, loader, budget=Budget(12, "steps"), optimizer=lambda p: torch.optim.SGD(p, lr=0.3),
              log_every=0, **kw)
        runs.append(([lr for _, lr, _ in rec.seen], [p.detach().clone() for p in model.parameters()]))
    assert runs[0][0] == pytest.approx(runs[1][0])
    assert all(torch.equal(a, b) for a, b in zip(runs[0][1], runs[1][1]))


@pytest.mark.parametrize("unit", ["steps", "samples", "epochs"])
def test_schedule_reaches_its_end_at_the_budget_whatever_the_unit(unit):
    amount = {"steps": 10, "samples": 80, "epochs": 2.5}[unit]
    model, loader = tiny_setup()
    rec = Record()
    st = train(model, loader, budget=Budget(amount, unit), optimizer=lambda p: torch.optim.SGD(p, lr=1.0),
               lr_schedule=budget_schedule("linear"), techniques=[rec], log_every=0)
    assert st.counters.step == 10
    lrs = [lr for _, lr, _ in rec.seen]
    assert lrs == pytest.approx([1 - i / 10 for i in range(10)])   # next step would be at LR 0


def test_errors_say_what_to_do():
    with pytest.raises(ValueError, match="positive"):
        Budget(0, "steps")
    with pytest.raises(ValueError, match="positive"):
        Budget(-5, "seconds")
    with pytest.raises(ValueError, match="unknown budget unit 'minutes'; use one of"):
        Budget(3, "minutes")
    with pytest.raises(ValueError, match="not longer than its warmup.*shorten the warmup"):
        budget_schedule("linear", Budget(50, "steps"), warmup=100)
    with pytest.raises(ValueError, match="not longer than its warmup"):
        budget_schedule("cosine", Budget(5, "seconds"), warmup=5)
    with pytest.raises(ValueError, match="unknown schedule 'exp'; use one of"):
        budget_schedule("exp")
    with pytest.raises(ValueError, match="warmup must be >= 0"):
        budget_schedule("linear", warmup=-1)
    with pytest.raises(ValueError, match="pass budget="):
        budget_schedule("linear", warmup=3)
    with pytest.raises(ValueError, match="progress must be in"):
        linear_to_zero(1.5)
    with pytest.raises(ValueError, match="progress must be in"):
        cosine(math.nan)
    with pytest.raises(ValueError, match="beta"):
        rex(0.5, beta=1.0)


def test_real_clock_overshoot_is_less_than_the_last_step():
    """With the real clock the same bound holds by construction: the budget is checked before
    every step, so only the step that crosses it runs past (no absolute time is asserted)."""
    model, loader = tiny_setup()
    st = train(model, loader, budget=Budget(0.05, "seconds"), optimizer=lambda p: torch.optim.SGD(p, lr=0.1),
               lr_schedule=budget_schedule("linear"), log_every=1)
    h = st.history
    last = h[-1]["seconds"] - (h[-2]["seconds"] if len(h) > 1 else 0.0)
    assert 0.0 <= st.counters.seconds - 0.05 < last
    assert len(h) < 2 or h[-2]["seconds"] < 0.05
