import math

import pytest
import torch
from torch.optim import lr_scheduler as L

from accel_lib.optim import schedules as S


def torch_lrs(make, n, lr=0.1):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=lr)
    sch = make(opt)
    out = []
    for _ in range(n):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sch.step()
    return out


def ours(schedule, n, lr=0.1):
    return [lr * m for m in S.sample(schedule, n)]


def close(a, b, tol=1e-9):
    assert len(a) == len(b)
    worst = max(abs(x - y) for x, y in zip(a, b))
    assert worst < tol, worst


@pytest.mark.parametrize("n,w,start", [(100, 0.1, 0.0), (37, 0.3, 0.25), (50, 0.5, 1 / 3)])
def test_linear_warmup_matches_LinearLR(n, w, start):
    W = round(w * n)
    w = W / n
    close(ours(S.linear_warmup(w, start), n),
          torch_lrs(lambda o: L.LinearLR(o, start_factor=start if start > 0 else 1e-30, total_iters=W), n), 1e-9)


def test_step_matches_MultiStepLR():
    n = 80
    close(ours(S.step_decay((0.5, 0.75), 0.1), n), torch_lrs(lambda o: L.MultiStepLR(o, [40, 60], 0.1), n))


@pytest.mark.parametrize("final", [0.0, 0.05])
def test_cosine_matches_CosineAnnealingLR(final):
    n = 64
    close(ours(S.cosine(final), n), torch_lrs(lambda o: L.CosineAnnealingLR(o, T_max=n, eta_min=0.1 * final), n))


@pytest.mark.parametrize("n,pct,div,fdiv", [(100, 0.3, 25.0, 1e4), (57, 0.25, 10.0, 100.0)])
def test_one_cycle_matches_OneCycleLR(n, pct, div, fdiv):
    close(ours(S.one_cycle(pct, div, fdiv, total_steps=n), n),
          torch_lrs(lambda o: L.OneCycleLR(o, max_lr=0.1, total_steps=n, pct_start=pct, div_factor=div,
                                           final_div_factor=fdiv, cycle_momentum=False), n), 1e-9)


def test_one_cycle_linear_anneal_matches():
    n = 40
    close(ours(S.one_cycle(0.25, 25, 1e4, total_steps=n, anneal="linear"), n),
          torch_lrs(lambda o: L.OneCycleLR(o, max_lr=0.1, total_steps=n, pct_start=0.25, anneal_strategy="linear",
                                           cycle_momentum=False), n), 1e-9)


@pytest.mark.parametrize("n,T0,mult", [(120, 30, 1), (150, 10, 2), (130, 10, 3)])
def test_sgdr_matches_CosineAnnealingWarmRestarts(n, T0, mult):
    close(ours(S.sgdr(T0 / n, mult, 0.01), n),
          torch_lrs(lambda o: L.CosineAnnealingWarmRestarts(o, T_0=T0, T_mult=mult, eta_min=0.001), n), 1e-9)


def test_warmup_cosine_matches_SequentialLR():
    n, W = 100, 10
    close(ours(S.warmup_cosine(W / n, 0.0, start=0.1), n),
          torch_lrs(lambda o: L.SequentialLR(o, [L.LinearLR(o, 0.1, 1.0, W), L.CosineAnnealingLR(o, n - W)], [W]), n))


def test_warmup_stable_decay_matches_SequentialLR():
    n, W, D = 100, 5, 20
    ref = torch_lrs(lambda o: L.SequentialLR(o, [L.LinearLR(o, 0.2, 1.0, W), L.ConstantLR(o, 1.0, 1),
                                                 L.LinearLR(o, 1.0, 0.01, D)], [W, n - D]), n)
    close(ours(S.warmup_stable_decay(W / n, D / n, final=0.01, start=0.2), n), ref)


def test_inverse_sqrt_matches_transformer_formula_via_LambdaLR():
    n, W, d = 200, 20, 512

    def noam(k):  # Vaswani et al. eq. (3), divided by its peak value at k = W
        return (0.0 if k == 0 else d ** -0.5 * min(k ** -0.5, k * W ** -1.5)) / (d ** -0.5 * W ** -0.5)
    close(ours(S.inverse_sqrt(W / n), n), torch_lrs(lambda o: L.LambdaLR(o, noam), n))


def test_schedules_are_pure_and_bounded():
    for name, make in S.SCHEDULES.items():
        f = make(0.1, 0.01)
        xs = [i / 200 for i in range(201)]
        a, b = [f(x) for x in xs], [f(x) for x in xs]
        assert a == b, name
        assert all(0 <= v <= 1 + 1e-12 for v in a), name
        assert max(a) > 0.99, name


def test_trains_through_loop_with_expected_lrs():
    from accel_lib.core import Budget, train
    seen = []
    model = torch.nn.Linear(2, 2)
    data = [(torch.randn(4, 2), torch.randint(0, 2, (4,))) for _ in range(5)]

    class Spy:
        def __iter__(self):
            return iter(data)

    sched = S.warmup_cosine(0.2)

    def opt(params):
        o = torch.optim.SGD(params, lr=0.5)
        orig = o.step

        def step(closure=None):
            seen.append(o.param_groups[0]["lr"])
            return orig(closure)
        o.step = step
        return o
    train(model, Spy(), budget=Budget(10, "steps"), optimizer=opt, lr_schedule=sched, device="cpu")
    close(seen, ours(sched, 10, 0.5))


@pytest.mark.parametrize("bad", [
    lambda: S.linear_warmup(1.2), lambda: S.linear_warmup(-0.1), lambda: S.cosine(final=-0.1),
    lambda: S.with_warmup(S.cosine(), 1.0), lambda: S.warmup_stable_decay(0.5, 0.6),
    lambda: S.one_cycle(peak_at=1.0), lambda: S.sgdr(0.0), lambda: S.sgdr(0.2, mult=0.5),
    lambda: S.warmup_fraction(120, 100), lambda: S.step_decay(gamma=2.0), lambda: S.cosine()(1.5),
])
def test_bad_arguments_raise_with_advice(bad):
    with pytest.raises(ValueError, match="must|does not fit|exceed|shorten"):
        bad()


def test_plot_and_explorer_use_the_library_schedules():
    import matplotlib
    matplotlib.use("Agg")
    ax = S.plot_schedules(0.1, 0.01, 0.5, 200)
    lines = ax.get_lines()
    assert len(lines) == len(S.SCHEDULES)
    cos = dict(zip(S.SCHEDULES, lines))["cosine"]
    assert list(cos.get_ydata()) == [0.5 * m for m in S.sample(S.SCHEDULES["cosine"](0.1, 0.01), 200)]
    ex = S.schedule_explorer()
    assert {c.description for c in ex.children[:-1]} >= {"warmup", "peak LR", "steps"}
