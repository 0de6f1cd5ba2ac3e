"""Gradient noise scale: measure during training the batch size beyond which larger batches stop
paying (McCandlish et al.'s critical batch size).

Speeds up: planning, by telling how far the batch (and with it data parallelism) can grow before
steps stop getting proportionally fewer: B_crit is about ``B_simple = tr(Sigma) / |G|^2``.
Paper: McCandlish, Kaplan, Amodei, OpenAI Dota Team, "An Empirical Model of Large-Batch
Training", 2018 (appendix A: unbiased estimates from two batch sizes).
Reference: none; tests/optim/test_noise_scale.py checks the estimator against the exact
``tr(Sigma) / |G|^2`` computed from per-example gradients on a linear model.
Caveats: the two estimates are noisy: average numerator and denominator separately (here an EMA)
before dividing; it grows during training as the loss falls, so measure it where you plan to use
it; the extra backward passes cost about one training step each time it is measured.
Book: book/optim/large_batch.ipynb
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional, Tuple

import torch

from accel_lib.core import Batch, Technique, default_loss

__all__ = ["noise_scale_estimates", "GradientNoiseScale"]


def noise_scale_estimates(g_small_sq: float, g_big_sq: float, b_small: int, b_big: int) -> Tuple[float, float]:
    """Unbiased estimates ``(|G|^2, tr(Sigma))`` from squared gradient norms measured at two batch
    sizes (McCandlish et al., eqs. A.2-A.3); ``B_simple = tr(Sigma) / |G|^2``."""
    if not 0 < b_small < b_big:
        raise ValueError(f"need 0 < b_small < b_big, got {b_small}, {b_big}.")
    g2 = (b_big * g_big_sq - b_small * g_small_sq) / (b_big - b_small)
    s = (g_small_sq - g_big_sq) / (1.0 / b_small - 1.0 / b_big)
    return float(g2), float(s)


def _grad_sq(params) -> float:
    return float(sum((p.grad.detach().float() ** 2).sum() for p in params if p.grad is not None))


@dataclass
class GradientNoiseScale(Technique):
    """Every ``every`` steps, compare the batch gradient with the gradients of its ``parts``
    equal slices (extra backward passes on the same batch; BatchNorm buffers and gradients are
    restored afterwards, so training is unchanged). Estimates go to ``state.extras["noise_scale"]``
    and to ``self.history`` as ``(step, B_simple)``; ``B_simple`` is NaN while the smoothed ``|G|^2``
    estimate is not positive (the signal is still below the noise of the estimate).

    ``ema``: smoothing of the numerator and denominator before the ratio.
    """

    every: int = 10
    parts: int = 2
    ema: float = 0.9
    loss_fn: Callable = field(default=default_loss, repr=False)

    def __post_init__(self) -> None:
        if self.every < 1 or self.parts < 2:
            raise ValueError("every must be >= 1 and parts >= 2 (slices of the batch).")
        if not 0 <= self.ema < 1:
            raise ValueError(f"ema must be in [0, 1), got {self.ema!r}.")
        self.history: list = []
        self._g2 = self._s = 0.0
        self._n = 0
        self._batch: Optional[Batch] = None

    def on_batch(self, batch: Batch, state) -> Batch:
        self._batch = batch
        return batch

    def after_backward(self, state) -> None:
        if state.counters.step % self.every or self._batch is None or self._batch.size < 2 * self.parts:
            return
        model, b = state.model, self._batch
        params = [p for p in model.parameters() if p.requires_grad]
        saved = [None if p.grad is None else p.grad.detach().clone() for p in params]
        buffers = {k: v.detach().clone() for k, v in model.state_dict().items() if k in dict(model.named_buffers())}
        big_sq = _grad_sq(params)
        small = b.size // self.parts
        sq = []
        for i in range(self.parts):
            for p in params:
                p.grad = None
            xs, ys = b.x[i * small:(i + 1) * small], b.y[i * small:(i + 1) * small]
            self.loss_fn(model(xs), ys).mean().backward()
            sq.append(_grad_sq(params))
        model.load_state_dict(buffers, strict=False)
        for p, g in zip(params, saved):
            p.grad = g
        g2, s = noise_scale_estimates(sum(sq) / len(sq), big_sq, small, b.size)
        self._n += 1
        a = self.ema
        self._g2 = a * self._g2 + (1 - a) * g2
        self._s = a * self._s + (1 - a) * s
        corr = 1 - a ** self._n
        g2_avg = self._g2 / corr
        b_simple = (self._s / corr) / g2_avg if g2_avg > 0 else float("nan")   # |G|^2 not yet resolved
        self.history.append((state.counters.step, b_simple))
        state.extras["noise_scale"] = b_simple

    def state_dict(self) -> dict:
        return {"g2": self._g2, "s": self._s, "n": self._n, "history": list(self.history)}

    def load_state_dict(self, state: dict) -> None:
        self._g2, self._s, self._n = state["g2"], state["s"], state["n"]
        self.history = list(state["history"])
