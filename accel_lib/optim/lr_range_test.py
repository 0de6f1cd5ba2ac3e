"""LR range test: grow the learning rate geometrically over a short run and read the largest LR
at which the loss still falls fast.

Speeds up: time-to-accuracy, by replacing a grid search over the peak LR with one short run
(tens to a few hundred steps) whose suggestion seeds one-cycle or cosine schedules.
Paper: Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017.
Reference: none in PyTorch (the exponential growth equals ``lr_scheduler.ExponentialLR``;
tests/optim/test_lr_range_test.py checks it, and the divergence point on a quadratic).
Caveats: the suggestion is a heuristic (steepest descent of the smoothed loss, capped below the
divergence point); it depends on batch size, weight decay and the model's initial state, so redo it
when those change. It runs on a copy of the model: the model passed in is untouched.
Book: book/optim/learning_rate.ipynb
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Optional

import torch
from torch import nn

from accel_lib.core import Batch, default_loss

__all__ = ["RangeTestResult", "lr_range_test", "suggest_lr", "geometric_lrs"]


def geometric_lrs(min_lr: float, max_lr: float, steps: int) -> list:
    """``steps`` learning rates from ``min_lr`` to ``max_lr``, evenly spaced in log scale."""
    if not (0 < min_lr < max_lr):
        raise ValueError(f"need 0 < min_lr < max_lr, got {min_lr!r}, {max_lr!r}; a learning rate "
                         "must be positive.")
    if steps < 2:
        raise ValueError(f"steps must be >= 2, got {steps}.")
    r = (max_lr / min_lr) ** (1.0 / (steps - 1))
    return [min_lr * r ** k for k in range(steps)]


def suggest_lr(lrs: list, losses: list, skip_start: int = 5) -> float:
    """The LR at the steepest descent of the (smoothed) loss against log LR, among the points
    before the loss reaches its minimum."""
    if len(lrs) != len(losses) or len(lrs) < skip_start + 3:
        raise ValueError("need matching lrs and losses, longer than skip_start + 3.")
    stop = min(range(len(losses)), key=lambda i: losses[i])
    stop = max(stop, skip_start + 2)
    best, best_slope = skip_start, math.inf
    for i in range(skip_start, stop):
        slope = (losses[i + 1] - losses[i - 1]) / (math.log(lrs[i + 1]) - math.log(lrs[i - 1]))
        if slope < best_slope:
            best, best_slope = i, slope
    return float(lrs[best])


@dataclass
class RangeTestResult:
    lrs: list = field(default_factory=list)          # LR used at each step
    losses: list = field(default_factory=list)       # smoothed (bias-corrected EMA) training loss
    raw_losses: list = field(default_factory=list)
    suggestion: float = float("nan")                 # steepest-descent LR
    diverged_at: Optional[float] = None              # LR where the loss exceeded `diverge` x the best

    def plot(self, ax: Any = None) -> Any:
        import matplotlib.pyplot as plt
        ax = ax or plt.gca()
        ax.plot(self.lrs, self.losses, label="smoothed loss")
        ax.axvline(self.suggestion, ls="--", c="k", label=f"suggested {self.suggestion:.3g}")
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("training loss")
        ax.legend()
        return ax


def _cycle(batches: Iterable) -> Iterator:
    """Batches forever: successive epochs of a loader with ``iter_epoch``, or repeated passes over
    a re-iterable (a list, a DataLoader)."""
    if hasattr(batches, "iter_epoch"):
        epoch = 0
        while True:
            yield from batches.iter_epoch(epoch)
            epoch += 1
    while True:
        n = 0
        for b in batches:
            n += 1
            yield b
        if n == 0 or iter(batches) is batches:
            raise ValueError("the batches ran out before `steps`: pass a loader (or a list) rather than a "
                             "one-shot iterator, or lower `steps`.")


def lr_range_test(model: nn.Module, batches: Iterable, optimizer: Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer],
                  *, min_lr: float = 1e-5, max_lr: float = 10.0, steps: int = 100, smooth: float = 0.9,
                  diverge: float = 4.0, loss_fn: Callable = default_loss,
                  device: Optional[torch.device | str] = None) -> RangeTestResult:
    """Train a copy of ``model`` for ``steps`` steps with the LR growing from ``min_lr`` to
    ``max_lr`` geometrically; stop early once the smoothed loss exceeds ``diverge`` times its best.

    ``batches`` yields ``Batch``/``(x, y)`` pairs: a loader (cycled over epochs) or a list.
    """
    if not 0 <= smooth < 1:
        raise ValueError(f"smooth must be in [0, 1), got {smooth!r}.")
    if diverge <= 1:
        raise ValueError(f"diverge must be > 1 (a factor over the best loss), got {diverge!r}.")
    lrs = geometric_lrs(min_lr, max_lr, steps)
    net = copy.deepcopy(model)
    if device is not None:
        net = net.to(device)
    dev = next(net.parameters()).device
    opt = optimizer(net.parameters())
    net.train()
    res = RangeTestResult()
    avg, best = 0.0, math.inf
    it = _cycle(batches)
    for k, lr in enumerate(lrs):
        raw = next(it)
        b = raw if isinstance(raw, Batch) else Batch(*raw)
        for g in opt.param_groups:
            g["lr"] = lr
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(b.x.to(dev)), b.y.to(dev)).mean()
        loss.backward()
        opt.step()
        v = loss.item()
        avg = smooth * avg + (1 - smooth) * v
        sm = avg / (1 - smooth ** (k + 1))
        res.lrs.append(lr)
        res.raw_losses.append(v)
        res.losses.append(sm)
        best = min(best, sm)
        if not math.isfinite(sm) or sm > diverge * best:
            res.diverged_at = lr
            break
    res.suggestion = suggest_lr(res.lrs, res.losses, skip_start=min(5, max(1, len(res.lrs) // 10)))
    return res
