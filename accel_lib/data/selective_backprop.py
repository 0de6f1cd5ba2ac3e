"""Selective-Backprop: forward the whole batch, back-propagate only its highest-loss examples.

Speeds up: wall-clock per useful update, by skipping the backward pass (about 2/3 of a step's
FLOPs) for examples the model already fits; the scoring forward pass costs about 1/3.
Paper: Jiang et al., "Accelerating Deep Learning by Focusing on the Biggest Losers", 2019.
Reference: none (a closed-form test of which examples are kept, and counts of examples and FLOPs,
tests/data/test_selective_backprop.py).
Caveats: each step now costs a no-grad forward of the full batch plus forward+backward of the kept
fraction, so with ``fraction=f`` the FLOPs per loader batch are about ``(1 + 3f) / 3`` of a normal
step: it is cheaper only for ``f < 2/3`` and it pays only if learning from the hard examples makes
up for the examples skipped. Score clean examples (before MixUp/CutMix). High-loss examples include
mislabelled ones: with noisy labels it can hurt.
Book: book/data/sampling.ipynb
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch

from ..core.technique import Batch, Technique
from ._util import per_example_losses

__all__ = ["select_top_loss", "selection_probability", "SelectiveBackprop"]


def select_top_loss(losses: torch.Tensor, fraction: float) -> torch.Tensor:
    """Indices (ascending) of the ``max(1, round(fraction * B))`` largest entries of ``losses`` (B,)."""
    if losses.dim() != 1:
        raise ValueError(f"losses must be a vector (B,), got shape {tuple(losses.shape)}.")
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1] (the share of examples to back-propagate), got {fraction}.")
    k = max(1, int(round(fraction * losses.numel())))
    return torch.topk(losses, k).indices.sort().values


def selection_probability(losses: torch.Tensor, history: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
    """The paper's probabilistic rule: keep an example with probability ``CDF(loss)**beta``, where the
    CDF is the empirical distribution of recent losses ``history``. Larger ``beta`` keeps fewer."""
    if history.numel() == 0:
        raise ValueError("history is empty: record some losses before using the probabilistic rule.")
    if beta <= 0:
        raise ValueError(f"beta must be > 0, got {beta}.")
    cdf = (history[None, :] <= losses[:, None]).float().mean(1)
    return cdf.pow(beta)


@dataclass
class SelectiveBackprop(Technique):
    """Keep the top ``fraction`` of each batch by loss (``beta=None``), or keep each example with
    probability ``CDF(loss)**beta`` over the last ``history`` losses. Before progress ``start`` every
    example is kept. Counts in ``state.extras['selective_backprop']``."""

    fraction: float = 0.5
    beta: Optional[float] = None
    history: int = 1024
    start: float = 0.0
    seed: int = 0
    conflicts = ("ImportanceSampling", "InfoBatch")

    def __post_init__(self) -> None:
        if not 0.0 < self.fraction <= 1.0:
            raise ValueError(f"fraction must be in (0, 1], got {self.fraction}.")
        self._g = torch.Generator().manual_seed(self.seed)
        self._hist = torch.empty(0)
        self.forwarded = 0   # examples scored by the extra forward pass
        self.selected = 0    # examples back-propagated

    def on_batch(self, batch: Batch, state) -> Batch:
        if state.progress < self.start:
            return batch
        losses = per_example_losses(state.model, batch.x, batch.y)
        if self.beta is None:
            idx = select_top_loss(losses, self.fraction)
        else:
            self._hist = torch.cat([self._hist, losses.cpu()])[-self.history:]
            p = selection_probability(losses.cpu(), self._hist, self.beta)
            keep = torch.rand(len(p), generator=self._g) < p
            if not keep.any():
                keep[int(losses.argmax())] = True
            idx = keep.nonzero().flatten().to(batch.x.device)
        self.forwarded += batch.size
        self.selected += int(idx.numel())
        state.extras["selective_backprop"] = {"forwarded": self.forwarded, "selected": self.selected}
        w = None if batch.weight is None else batch.weight[idx]
        return Batch(batch.x[idx], batch.y[idx], w)

    def state_dict(self) -> dict:
        return {"generator": self._g.get_state(), "history": self._hist,
                "forwarded": self.forwarded, "selected": self.selected}

    def load_state_dict(self, state: dict) -> None:
        self._g.set_state(state["generator"])
        self._hist = state["history"]
        self.forwarded, self.selected = state["forwarded"], state["selected"]
