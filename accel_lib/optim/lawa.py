"""LAWA: latest weight averaging: keep the last ``k`` checkpoints (taken every epoch or every
``every`` steps) and evaluate their uniform average.

Speeds up: time-to-accuracy: averaging the latest checkpoints of a run with a high LR gives the
benefit of a decayed LR early, so a target is reached many epochs sooner.
Paper: Kaddour, "Stop Wasting My Time! Saving Days of ImageNet and BERT Training with Latest Weight
Averaging", NeurIPS 2022 HITY workshop.
Reference: none in PyTorch (a uniform average, like ``swa_utils.AveragedModel`` over a sliding
window); tests/optim/test_lawa.py checks it against the mean of saved snapshots.
Caveats: ``k`` copies of the weights in memory (CPU offload them for large models); the benefit
shrinks once the LR has decayed (the iterates then barely move); BatchNorm buffers are taken from
the latest checkpoint, not averaged.
Book: book/optim/averaging.ipynb
"""
from __future__ import annotations

import copy
from collections import deque
from dataclasses import dataclass
from typing import Optional

import torch
from torch import nn

from accel_lib.core import Technique

__all__ = ["average_state_dicts", "LAWA"]


@torch.no_grad()
def average_state_dicts(states: list) -> dict:
    """Uniform average of floating tensors across state dicts; other entries from the last one."""
    if not states:
        raise ValueError("need at least one state dict to average.")
    out = {}
    for key, last in states[-1].items():
        if last.is_floating_point():
            out[key] = torch.stack([s[key].float() for s in states]).mean(0).to(last.dtype)
        else:
            out[key] = last.clone()
    return out


@dataclass(eq=False)
class LAWA(Technique):
    """Snapshot the parameters every ``every`` steps (or at each epoch end when ``every`` is None),
    keep the latest ``k``; ``averaged_model()`` returns a model holding their mean (parameters
    averaged, buffers from the latest snapshot)."""

    k: int = 5
    every: Optional[int] = None
    offload: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.k, int) or self.k < 1:
            raise ValueError(f"k (checkpoints to average) must be a positive integer, got {self.k!r}.")
        if self.every is not None and self.every < 1:
            raise ValueError(f"every must be a positive number of steps or None (per epoch), got {self.every!r}.")
        self.snapshots: deque = deque(maxlen=self.k)
        self._model: Optional[nn.Module] = None
        self._last_epoch = 0

    def _snapshot(self, model: nn.Module) -> None:
        dev = "cpu" if self.offload else None
        self.snapshots.append({n: t.detach().to(dev or t.device, copy=True) for n, t in model.state_dict().items()})

    def on_start(self, state) -> None:
        self._model = state.model
        self._params = {n for n, _ in state.model.named_parameters()}
        self._last_epoch = int(state.counters.epoch)

    def after_step(self, state) -> None:
        c = state.counters
        if self.every is not None:
            take = c.step % self.every == 0
        else:
            take = int(c.epoch + 1e-9) > self._last_epoch
        if take:
            self._last_epoch = int(c.epoch + 1e-9)
            self._snapshot(state.model)

    def averaged_model(self, model: Optional[nn.Module] = None) -> nn.Module:
        """A copy of ``model`` (default: the trained one) holding the average of the snapshots."""
        base = model if model is not None else self._model
        if base is None or not self.snapshots:
            raise ValueError("no snapshots yet: train with this technique first (or lower `every`).")
        avg = average_state_dicts(list(self.snapshots))
        latest = self.snapshots[-1]
        merged = {n: (avg[n] if n in self._params else latest[n]) for n in latest}
        out = copy.deepcopy(base)
        dev = next(base.parameters()).device
        out.load_state_dict({n: t.to(dev) for n, t in merged.items()})
        return out

    def state_dict(self) -> dict:
        return {"snapshots": list(self.snapshots), "last_epoch": self._last_epoch}

    def load_state_dict(self, state: dict) -> None:
        self.snapshots = deque(state["snapshots"], maxlen=self.k)
        self._last_epoch = state["last_epoch"]
