"""Progressive layer freezing (FreezeOut): stop training the earliest layers first, each at a
scheduled point of the run, so that backward passes get shorter as training goes on.

Speeds up: backward FLOPs and time: once the first k layers are frozen, autograd neither computes
their weight gradients nor propagates gradients through them (nothing below needs them).
Paper: Brock, Lim, Ritchie & Weston, "FreezeOut: Accelerate Training by Progressively Freezing
Layers", 2017; Liu et al., "AutoFreeze", 2021 (adaptive freezing).
Reference: none in PyTorch (``requires_grad_(False)`` is the mechanism); tests/model/test_freezeout.py
checks the backward FLOPs saved with FlopCounterMode and that frozen weights never change.
Caveats: the forward pass is unchanged, so at most the backward share (about 2/3 of a step) of
the frozen layers is saved; freezing too early costs accuracy. The paper's per-layer LR annealing
is approximated here by freezing only; BatchNorm statistics of frozen layers keep updating.
Book: book/model/curriculum.ipynb
"""
from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from ..core.technique import Stage, Technique

__all__ = ["freeze_times", "freeze_units", "frozen_count", "FreezeOut"]


def freeze_times(n_units: int, t0: float = 0.5, cubic: bool = True) -> list:
    """When (progress in [0, 1]) unit i of n stops training: t_i = t0 + (1 - t0) * u with
    u = i / (n - 1), or u^3 with FreezeOut's cubic scaling (which freezes more layers early and
    saves more compute). The last unit never freezes (t = 1)."""
    if not 0.0 < t0 <= 1.0:
        raise ValueError(f"t0 must be in (0, 1], got {t0}.")
    if n_units < 1:
        raise ValueError("need at least one unit.")
    if n_units == 1:
        return [1.0]
    out = []
    for i in range(n_units):
        u = i / (n_units - 1)
        out.append(t0 + (1 - t0) * (u ** 3 if cubic else u))
    return out


def freeze_units(model: nn.Module) -> list:
    """The model's trainable units in forward order: its top-level children, where a container
    (Sequential/ModuleList) of blocks is expanded one level (FastCNN: stem, 3 blocks, head; GPT:
    token and position embeddings, each block, final norm, head). Units without parameters are
    left out. A container of plain layers (a stem of conv, norm, activation) stays one unit."""
    def has_params(m: nn.Module) -> bool:
        return any(True for _ in m.parameters())

    units = []
    for child in model.children():
        inner = [c for c in child.children() if has_params(c)] if isinstance(child, (nn.Sequential, nn.ModuleList)) else []
        if len(inner) > 1 and all(any(True for _ in c.children()) for c in inner):
            units.extend(inner)
        elif has_params(child):
            units.append(child)
    return units


def frozen_count(units: list, times: list, progress: float) -> int:
    return sum(1 for t in times[:-1] if progress >= t)


@dataclass
class FreezeOut(Technique):
    """Freeze unit i (see :func:`freeze_units`) once progress reaches its :func:`freeze_times`."""

    t0: float = 0.5
    cubic: bool = True
    stage = Stage.SURGERY

    def setup_model(self, model: nn.Module, state) -> nn.Module:
        self._units = freeze_units(model)
        if len(self._units) < 2:
            raise ValueError("FreezeOut needs a model with at least two parameterised units.")
        self._times = freeze_times(len(self._units), self.t0, self.cubic)
        last = {id(p) for p in self._units[-1].parameters()}   # tied with the head: never frozen
        self._params = [[p for p in u.parameters() if id(p) not in last] for u in self._units]
        self.frozen = 0
        return model

    def on_batch(self, batch, state):
        k = frozen_count(self._units, self._times, state.progress)
        if k > self.frozen:
            for ps in self._params[self.frozen:k]:
                for p in ps:
                    p.requires_grad_(False)
                    p.grad = None
            self.frozen = k
        return batch

    # No state: on resume, the first on_batch re-freezes everything due at the restored progress.
