"""Loss-based importance sampling with unbiased reweighting: score a large uniform batch, draw the
examples to train on with probability proportional to their loss, and weight each by ``1/(B p_i)``.

Speeds up: time-to-accuracy, by spending the backward passes on the examples whose gradients are
large (the loss is a cheap proxy for the gradient norm) while keeping the gradient unbiased.
Paper: Katharopoulos & Fleuret, "Not All Samples Are Created Equal: Deep Learning with Importance
Sampling", ICML 2018 (also Loshchilov & Hutter, "Online Batch Selection", 2015).
Reference: none (closed-form unbiasedness: tests/data/test_importance_sampling.py::test_weights_are_unbiased_exactly).
Caveats: scoring the large batch costs a forward pass per scored example; the variance reduction
must pay for it, which the paper switches on only when it predicts a gain; extreme weights add
variance, so probabilities are mixed with the uniform distribution (``smoothing``).
Book: book/data/sampling.ipynb
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch

from ..core.technique import Batch, Technique
from ._util import per_example_losses

__all__ = ["importance_probabilities", "importance_sample", "ImportanceSampling"]


def importance_probabilities(scores: torch.Tensor, smoothing: float = 0.1) -> torch.Tensor:
    """``p = (1 - smoothing) * scores / sum(scores) + smoothing / B`` for non-negative ``scores`` (B,)."""
    if scores.dim() != 1 or scores.numel() == 0:
        raise ValueError(f"scores must be a non-empty vector (B,), got shape {tuple(scores.shape)}.")
    if not 0.0 <= smoothing <= 1.0:
        raise ValueError(f"smoothing must be in [0, 1] (1 = uniform sampling), got {smoothing}.")
    s = scores.double()
    if bool((s < 0).any()) or not bool(torch.isfinite(s).all()):
        raise ValueError("scores must be finite and >= 0 (use per-example losses or gradient norms).")
    total = s.sum()
    base = s / total if total > 0 else torch.full_like(s, 1.0 / len(s))
    return ((1.0 - smoothing) * base + smoothing / len(s)).float()


def importance_sample(scores: torch.Tensor, k: int, smoothing: float = 0.1,
                      generator: Optional[torch.Generator] = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw ``k`` indices with replacement with ``p`` from :func:`importance_probabilities`, and their
    weights ``1 / (B p_i)``: the weighted mean of any per-example quantity over the draw is an
    unbiased estimate of its plain mean over all ``B``."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}.")
    p = importance_probabilities(scores, smoothing)
    idx = torch.multinomial(p.cpu(), k, replacement=True, generator=generator).to(scores.device)
    return idx, 1.0 / (len(p) * p[idx])


@dataclass
class ImportanceSampling(Technique):
    """The loader's batch is the large uniform batch ``B``; train on ``round(fraction * B)`` examples
    drawn by loss, with unbiased weights. ``start``: progress before which it trains on a uniform
    sub-batch of the same size (the paper's warm-up)."""

    fraction: float = 0.25
    smoothing: float = 0.1
    start: float = 0.0
    seed: int = 0
    conflicts = ("SelectiveBackprop", "InfoBatch")

    def __post_init__(self) -> None:
        if not 0.0 < self.fraction <= 1.0:
            raise ValueError(f"fraction must be in (0, 1], got {self.fraction}.")
        self._g = torch.Generator().manual_seed(self.seed)
        self.forwarded = 0
        self.selected = 0

    def on_batch(self, batch: Batch, state) -> Batch:
        k = max(1, int(round(self.fraction * batch.size)))
        if state.progress < self.start:
            idx = torch.randperm(batch.size, generator=self._g)[:k].to(batch.x.device)
            w = None if batch.weight is None else batch.weight[idx]
        else:
            losses = per_example_losses(state.model, batch.x, batch.y)
            idx, w = importance_sample(losses, k, self.smoothing, self._g)
            self.forwarded += batch.size
            if batch.weight is not None:
                w = w * batch.weight[idx]
        self.selected += k
        state.extras["importance_sampling"] = {"forwarded": self.forwarded, "selected": self.selected}
        return Batch(batch.x[idx], batch.y[idx], w)

    def state_dict(self) -> dict:
        return {"generator": self._g.get_state(), "forwarded": self.forwarded, "selected": self.selected}

    def load_state_dict(self, state: dict) -> None:
        self._g.set_state(state["generator"])
        self.forwarded, self.selected = state["forwarded"], state["selected"]
