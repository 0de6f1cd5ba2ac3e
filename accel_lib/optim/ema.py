"""EMA of weights: keep an exponential moving average of the parameters and evaluate it instead
of the last iterate.

Speeds up: time-to-accuracy: the average of recent iterates sits closer to the bottom of the
valley than any noisy iterate, so a target accuracy is reached in fewer steps, for one extra copy
of the weights and a cheap update per step.
Paper: Polyak & Juditsky, "Acceleration of Stochastic Approximation by Averaging", 1992.
Reference: torch.optim.swa_utils.AveragedModel(multi_avg_fn=get_ema_multi_avg_fn(decay))
(tests/optim/test_ema.py::test_matches_torch_averaged_model).
Caveats: the decay sets a horizon of about 1/(1 - decay) steps: too long for a short run and the
average still remembers the random start (use ``start`` to begin later); BatchNorm statistics are
copied from the model (``use_buffers=False``) or averaged too (``use_buffers=True``).
Book: book/optim/averaging.ipynb
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from torch import nn

from accel_lib.core import Technique

from ._average import start_average

__all__ = ["ema_update", "EMA"]


@torch.no_grad()
def ema_update(avg: list, new: list, decay: float) -> None:
    """``avg <- decay * avg + (1 - decay) * new`` in place, tensor by tensor (floats only; other
    dtypes are copied)."""
    for a, n in zip(avg, new):
        if a.is_floating_point():
            a.lerp_(n.detach().to(a.device), 1.0 - decay)
        else:
            a.copy_(n)


def _tensors(m: nn.Module, buffers: bool) -> list:
    return list(m.parameters()) + (list(m.buffers()) if buffers else [])


@dataclass(eq=False)
class EMA(Technique):
    """Average the model after every ``every``-th optimizer step once progress reaches ``start``.

    ``self.module`` is the averaged model (evaluate it, or pass ``swap_at_end=True`` to make the
    loop return it as ``state.model``).
    """

    decay: float = 0.999
    start: float = 0.0
    every: int = 1
    use_buffers: bool = False
    swap_at_end: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.decay <= 1:
            raise ValueError(f"decay must be in [0, 1], got {self.decay!r} (0.99-0.9999 is typical).")
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
        """One averaging step (the first one copies the model, as AveragedModel does)."""
        avg, cur = _tensors(self.module, self.use_buffers), _tensors(model, self.use_buffers)
        if self.n_averaged == 0:
            with torch.no_grad():
                for a, c in zip(avg, cur):
                    a.copy_(c)
        else:
            ema_update(avg, cur, self.decay)
        if not self.use_buffers:
            with torch.no_grad():
                for a, c in zip(self.module.buffers(), model.buffers()):
                    a.copy_(c)
        self.n_averaged += 1

    def after_step(self, state) -> None:
        if state.progress >= self.start and state.counters.step % self.every == 0:
            self.update(state.model)

    def on_end(self, state) -> None:
        if self.swap_at_end and self.n_averaged:
            state.model = self.module

    def state_dict(self) -> dict:
        return {"module": self.module.state_dict() if self.module is not None else None,
                "n_averaged": self.n_averaged}

    def load_state_dict(self, state: dict) -> None:
        self._pending = state
