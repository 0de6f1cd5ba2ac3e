"""SWA: average the weights visited late in training with a constant or cyclic LR (an equal-weight
running mean), then recompute BatchNorm statistics for the averaged weights.

Speeds up: time-to-accuracy: the average of iterates spread across a wide basin generalises
better than its members at almost no cost, so the same accuracy needs fewer epochs.
Paper: Izmailov, Podoprikhin, Garipov, Vetrov, Wilson, "Averaging Weights Leads to Wider Optima
and Better Generalization", UAI 2018.
Reference: torch.optim.swa_utils.AveragedModel and update_bn (tests/optim/test_swa.py).
Caveats: the average is only good once the iterates are in the same basin (start late, 50-75% of
training); BatchNorm statistics of the averaged weights must be recomputed (one pass over training
data: ``update_bn``), otherwise accuracy can collapse; it needs a LR that does not decay to zero
during averaging (``swa_schedule``).
Book: book/optim/averaging.ipynb
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Optional

import torch
from torch import nn

from accel_lib.core import Batch, Technique

from ._average import start_average

__all__ = ["running_mean_update", "update_bn", "swa_schedule", "SWA"]


@torch.no_grad()
def running_mean_update(avg: list, new: list, n: int) -> None:
    """``avg <- avg + (new - avg) / (n + 1)``: the mean of ``n + 1`` models from the mean of ``n``."""
    for a, x in zip(avg, new):
        a.add_((x.detach().to(a.device) - a) / (n + 1))


@torch.no_grad()
def update_bn(batches: Iterable, model: nn.Module, device: Optional[torch.device | str] = None) -> None:
    """Recompute BatchNorm running statistics of ``model`` as the plain average over ``batches``
    (momentum ``None``), in train mode; the model's mode and momenta are restored afterwards."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    momenta = {m: m.momentum for m in bns}
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    was = model.training
    model.train()
    for b in batches:
        x = b.x if isinstance(b, Batch) else (b[0] if isinstance(b, (list, tuple)) else b)
        model(x.to(device) if device is not None else x)
    for m in bns:
        m.momentum = momenta[m]
    model.train(was)


def swa_schedule(start: float = 0.75, swa_mult: float = 0.05):
    """LR multiplier for SWA: cosine decay from 1 to ``swa_mult`` over ``[0, start]``, then the
    constant ``swa_mult`` while SWA averages. Returns a function of progress."""
    if not 0 < start < 1:
        raise ValueError(f"start must be in (0, 1), got {start!r}.")
    if swa_mult <= 0:
        raise ValueError(f"swa_mult must be > 0 (SWA needs a LR that keeps exploring), got {swa_mult!r}.")

    def f(p: float) -> float:
        if p >= start:
            return swa_mult
        return swa_mult + (1 - swa_mult) * 0.5 * (1 + math.cos(math.pi * p / start))
    return f


@dataclass(eq=False)
class SWA(Technique):
    """Equal-weight average of the model after every ``every``-th step once progress reaches
    ``start``; at the end, BatchNorm statistics of ``self.module`` are recomputed over one epoch of
    the training loader (``bn_batches`` limits it) and, with ``swap_at_end``, it becomes ``state.model``.
    """

    start: float = 0.75
    every: int = 1
    bn_batches: Optional[int] = None
    swap_at_end: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.start < 1:
            raise ValueError(f"start must be a fraction of training in [0, 1), got {self.start!r}.")
        if self.every < 1:
            raise ValueError(f"every must be a positive number of steps, got {self.every!r}.")
        self.module: Optional[nn.Module] = None
        self.n_averaged = 0
        self._pending: Optional[dict] = None

    def on_start(self, state) -> None:
        start_average(self, state.model)

    def update(self, model: nn.Module) -> None:
        running_mean_update(list(self.module.parameters()), list(model.parameters()), self.n_averaged)
        self.n_averaged += 1

    def after_step(self, state) -> None:
        if state.progress >= self.start and state.counters.step % self.every == 0:
            self.update(state.model)

    def finalize(self, batches: Iterable, device: Optional[torch.device | str] = None) -> nn.Module:
        update_bn(batches, self.module, device)
        return self.module

    def on_end(self, state) -> None:
        if not self.n_averaged:
            return
        ld = state.loader
        it = ld.iter_epoch(0) if hasattr(ld, "iter_epoch") else iter(ld)
        if self.bn_batches is not None:
            import itertools
            it = itertools.islice(it, self.bn_batches)
        self.finalize(it, state.device)
        if self.swap_at_end:
            state.model = self.module

    def state_dict(self) -> dict:
        return {"module": self.module.state_dict() if self.module is not None else None,
                "n_averaged": self.n_averaged}

    def load_state_dict(self, state: dict) -> None:
        self._pending = state
