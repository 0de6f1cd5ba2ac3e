"""Learning-rate schedules as pure functions of training progress in [0, 1].

Speeds up: time-to-accuracy, by spending a large learning rate where it makes progress (after a
warmup that keeps early steps stable) and annealing where the noise of a large step would waste
the last part of the budget.
Paper: Goyal et al., "Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour", 2017 (warmup);
Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts", ICLR 2017;
Smith & Topin, "Super-Convergence", 2019 (one-cycle); Vaswani et al., "Attention Is All You Need",
2017 (inverse square root); Hu et al., "MiniCPM", 2024 (warmup-stable-decay).
Reference: torch.optim.lr_scheduler.LinearLR, MultiStepLR, CosineAnnealingLR, OneCycleLR,
CosineAnnealingWarmRestarts, SequentialLR, LambdaLR (tests/optim/test_schedules.py).
Caveats: a schedule is a multiplier of each parameter group's initial LR; its shape matters less
than its peak and its final value, so tune the peak first (see ``lr_range_test``). Schedules that
take ``total_steps`` reproduce PyTorch's step-indexed conventions exactly.
Book: book/optim/learning_rate.ipynb

Every factory returns a function ``progress -> multiplier`` (progress in [0, 1]); pass it to
``accel_lib.core.train(lr_schedule=...)``. With a budget of ``N`` steps the loop evaluates it at
``k / N`` before step ``k`` (``k = 0 .. N-1``).
"""
from __future__ import annotations

import math
from typing import Callable, Optional, Sequence

__all__ = ["Schedule", "constant", "linear_warmup", "step_decay", "cosine", "with_warmup", "warmup_cosine",
           "sgdr", "one_cycle", "inverse_sqrt", "warmup_stable_decay", "warmup_fraction", "sample", "plot_schedules", "schedule_explorer",
           "SCHEDULES"]

Schedule = Callable[[float], float]


def _frac(name: str, v: float, lo: float = 0.0, hi: float = 1.0, lo_open: bool = False,
          hi_open: bool = False) -> float:
    ok = (v > lo if lo_open else v >= lo) and (v < hi if hi_open else v <= hi)
    if not isinstance(v, (int, float)) or not ok:
        lb, rb = "(" if lo_open else "[", ")" if hi_open else "]"
        raise ValueError(f"{name} must be in {lb}{lo:g}, {hi:g}{rb} (a fraction of training), got {v!r}.")
    return float(v)


def _final(v: float) -> float:
    if not isinstance(v, (int, float)) or v < 0:
        raise ValueError(f"final (the last multiplier of the LR) must be >= 0, got {v!r}; "
                         "a negative learning rate would climb the loss.")
    return float(v)


def _check_p(p: float) -> float:
    if not 0.0 <= p <= 1.0 + 1e-9:
        raise ValueError(f"progress must be in [0, 1], got {p!r}.")
    return min(float(p), 1.0)


def warmup_fraction(warmup_steps: int, total_steps: int) -> float:
    """Convert a warmup in steps to a fraction of training; refuses a warmup longer than the budget."""
    if total_steps < 1:
        raise ValueError(f"total_steps must be positive, got {total_steps}.")
    if warmup_steps < 0 or warmup_steps >= total_steps:
        raise ValueError(f"warmup of {warmup_steps} steps does not fit a budget of {total_steps} steps; "
                         "use a warmup shorter than the run (typically 1-10% of it).")
    return warmup_steps / total_steps


def constant() -> Schedule:
    """Multiplier 1 throughout (the baseline)."""
    return lambda p: (_check_p(p), 1.0)[1]


def linear_warmup(warmup: float, start: float = 0.0) -> Schedule:
    """Linear ramp from ``start`` to 1 over the first ``warmup`` fraction, then 1
    (``LinearLR(start_factor=start, total_iters=warmup*N)``)."""
    w = _frac("warmup", warmup, hi_open=True)
    s = _final(start)

    def f(p: float) -> float:
        p = _check_p(p)
        return 1.0 if w == 0 or p >= w else s + (1.0 - s) * p / w
    return f


def step_decay(milestones: Sequence[float] = (0.5, 0.75), gamma: float = 0.1) -> Schedule:
    """Multiply by ``gamma`` at each milestone (fractions of training): ``MultiStepLR``."""
    ms = sorted(_frac("milestone", m) for m in milestones)
    if not 0 < gamma <= 1:
        raise ValueError(f"gamma must be in (0, 1], got {gamma!r}.")

    def f(p: float) -> float:
        p = _check_p(p)
        return gamma ** sum(p >= m - 1e-12 for m in ms)
    return f


def cosine(final: float = 0.0) -> Schedule:
    """Half a cosine from 1 to ``final``: ``CosineAnnealingLR(T_max=N, eta_min=final*lr)``."""
    fin = _final(final)

    def f(p: float) -> float:
        p = _check_p(p)
        return fin + (1.0 - fin) * 0.5 * (1.0 + math.cos(math.pi * p))
    return f


def with_warmup(schedule: Schedule, warmup: float, start: float = 0.0) -> Schedule:
    """Linear warmup from ``start`` to 1 over ``warmup``, then ``schedule`` compressed into the rest
    of training (``SequentialLR([LinearLR, ...], milestones=[warmup*N])``)."""
    w = _frac("warmup", warmup, hi_open=True)
    s = _final(start)

    def f(p: float) -> float:
        p = _check_p(p)
        if p < w:
            return s + (1.0 - s) * p / w
        return schedule((p - w) / (1.0 - w))
    return f


def warmup_cosine(warmup: float = 0.05, final: float = 0.0, start: float = 0.0) -> Schedule:
    """Linear warmup then cosine decay to ``final``: the default of most modern recipes."""
    return with_warmup(cosine(final), warmup, start)


def sgdr(cycle: float = 0.25, mult: float = 1.0, final: float = 0.0) -> Schedule:
    """Cosine annealing with warm restarts: the first cycle lasts ``cycle`` of training, each next
    one ``mult`` times longer (``CosineAnnealingWarmRestarts(T_0=cycle*N, T_mult=mult)``)."""
    c0 = _frac("cycle", cycle, lo_open=True)
    if mult < 1:
        raise ValueError(f"mult (cycle growth) must be >= 1, got {mult!r}.")
    fin = _final(final)

    def f(p: float) -> float:
        p = _check_p(p)
        r = p / c0
        if mult == 1:
            n = math.floor(r + 1e-9)
            t, length = r - n, 1.0
        else:
            n = math.floor(math.log(r * (mult - 1) + 1, mult) + 1e-9)
            t = r - (mult ** n - 1) / (mult - 1)
            length = mult ** n
        t = max(t, 0.0)
        return fin + (1.0 - fin) * 0.5 * (1.0 + math.cos(math.pi * t / length))
    return f


def one_cycle(peak_at: float = 0.3, div: float = 25.0, final_div: float = 1e4,
              total_steps: Optional[int] = None, anneal: str = "cos") -> Schedule:
    """One cycle (Smith & Topin): from ``1/div`` up to 1 at ``peak_at``, then down to
    ``1/(div*final_div)``. The multiplier is relative to the peak LR.

    With ``total_steps`` given, phases end at step ``peak_at*N - 1`` and ``N - 1`` exactly as
    ``OneCycleLR`` does (so the last step uses the smallest LR); without it they end at progress
    ``peak_at`` and 1.
    """
    pk = _frac("peak_at", peak_at, lo_open=True, hi_open=True)
    if div < 1 or final_div < 1:
        raise ValueError(f"div and final_div must be >= 1, got {div!r}, {final_div!r}.")
    if anneal not in ("cos", "linear"):
        raise ValueError(f"anneal must be 'cos' or 'linear', got {anneal!r}.")
    lo, end = 1.0 / div, 1.0 / (div * final_div)
    if total_steps is not None:
        if total_steps < 2:
            raise ValueError("one_cycle needs total_steps >= 2.")
        n = float(total_steps)
        e1, e2 = pk * n - 1.0, n - 1.0
    else:
        n, e1, e2 = 1.0, pk, 1.0

    def interp(a: float, b: float, t: float) -> float:
        if anneal == "linear":
            return a + (b - a) * t
        return b + (a - b) * 0.5 * (1.0 + math.cos(math.pi * t))

    def f(p: float) -> float:
        t = _check_p(p) * n
        if t <= e1:
            return interp(lo, 1.0, t / e1 if e1 > 0 else 1.0)
        return interp(1.0, end, min(1.0, (t - e1) / (e2 - e1)))
    return f


def inverse_sqrt(warmup: float = 0.1, start: float = 0.0) -> Schedule:
    """Vaswani et al.'s schedule normalised to peak 1: linear warmup to ``warmup``, then
    ``sqrt(warmup / p)`` (the Transformer's ``d^-0.5 min(t^-0.5, t w^-1.5)`` divided by its peak)."""
    w = _frac("warmup", warmup, lo_open=True, hi_open=True)
    s = _final(start)

    def f(p: float) -> float:
        p = _check_p(p)
        return s + (1.0 - s) * p / w if p < w else math.sqrt(w / p)
    return f


def warmup_stable_decay(warmup: float = 0.05, decay: float = 0.2, final: float = 0.0,
                        start: float = 0.0, shape: str = "linear") -> Schedule:
    """Warmup, a long constant plateau, then a short decay to ``final`` over the last ``decay``
    fraction. The plateau lets one run be extended or branched into decays of several lengths."""
    w = _frac("warmup", warmup, hi_open=True)
    d = _frac("decay", decay, lo_open=True)
    if w + d > 1:
        raise ValueError(f"warmup ({w}) + decay ({d}) exceed the whole run; shorten one of them.")
    fin, s = _final(final), _final(start)
    if shape not in ("linear", "cosine", "sqrt"):
        raise ValueError(f"shape must be 'linear', 'cosine' or 'sqrt', got {shape!r}.")

    def f(p: float) -> float:
        p = _check_p(p)
        if p < w:
            return s + (1.0 - s) * p / w
        if p < 1.0 - d:
            return 1.0
        t = (p - (1.0 - d)) / d
        g = {"linear": 1.0 - t, "cosine": 0.5 * (1.0 + math.cos(math.pi * t)),
             "sqrt": 1.0 - math.sqrt(t)}[shape]
        return fin + (1.0 - fin) * g
    return f


def sample(schedule: Schedule, total_steps: int) -> list:
    """The multipliers the training loop uses for a budget of ``total_steps`` steps."""
    if total_steps < 1:
        raise ValueError(f"total_steps must be positive, got {total_steps}.")
    return [float(schedule(k / total_steps)) for k in range(total_steps)]


# Defaults for the book's explorer and static plot: name -> factory(warmup, final).
SCHEDULES = {
    "constant": lambda warmup, final: with_warmup(constant(), warmup) if warmup > 0 else constant(),
    "step (0.5, 0.75)": lambda warmup, final: with_warmup(step_decay(), warmup) if warmup > 0 else step_decay(),
    "cosine": lambda warmup, final: warmup_cosine(warmup, final) if warmup > 0 else cosine(final),
    "SGDR (4 cycles)": lambda warmup, final: with_warmup(sgdr(0.25, 1.0, final), warmup) if warmup > 0 else sgdr(0.25, 1.0, final),
    "one-cycle": lambda warmup, final: one_cycle(peak_at=max(warmup, 0.01), final_div=max(1.0, 1 / (25 * final)) if final > 0 else 1e4),
    "inverse sqrt": lambda warmup, final: inverse_sqrt(max(warmup, 0.01)),
    "warmup-stable-decay": lambda warmup, final: warmup_stable_decay(warmup, 0.2, final),
}


def plot_schedules(warmup: float = 0.05, final: float = 0.0, peak_lr: float = 0.1, total_steps: int = 1000,
                   names: Optional[Sequence[str]] = None, ax=None):
    """Draw the LR per step of the schedules in ``SCHEDULES`` (all by default) for a run of
    ``total_steps`` steps with peak ``peak_lr``; the static twin of :func:`schedule_explorer`."""
    import matplotlib.pyplot as plt
    ax = ax or plt.subplots(figsize=(7, 3.2))[1]
    for name in names or SCHEDULES:
        f = SCHEDULES[name](warmup, final)
        ax.plot(range(total_steps), [peak_lr * m for m in sample(f, total_steps)], label=name)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("learning rate")
    ax.legend(fontsize=7, ncol=2)
    return ax


def schedule_explorer():
    """An ipywidgets explorer over :data:`SCHEDULES`: sliders for warmup, final value, peak LR and
    total steps, and a choice of schedules; each change redraws :func:`plot_schedules`."""
    import ipywidgets as w
    import matplotlib.pyplot as plt

    def show(warmup, final, peak_lr, total_steps, names):
        plot_schedules(warmup, final, peak_lr, total_steps, names or list(SCHEDULES))
        plt.show()
    return w.interactive(
        show,
        warmup=w.FloatSlider(value=0.05, min=0.0, max=0.5, step=0.01, description="warmup"),
        final=w.FloatLogSlider(value=1e-3, base=10, min=-4, max=-0.5, description="final"),
        peak_lr=w.FloatLogSlider(value=0.1, base=10, min=-4, max=1, description="peak LR"),
        total_steps=w.IntSlider(value=1000, min=50, max=10000, step=50, description="steps"),
        names=w.SelectMultiple(options=list(SCHEDULES), value=list(SCHEDULES), description="schedules"))
