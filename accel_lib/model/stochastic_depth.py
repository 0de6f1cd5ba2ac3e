"""Stochastic depth and progressive layer dropping: during training, skip residual blocks at random
(each block survives with a probability that falls with depth, and for PLD also with time).

Speeds up: time per step, because a skipped block costs no forward or backward compute (whole-batch
"batch" mode); per-example "row" mode only regularises, since the block still runs for the batch.
Paper: Huang et al., "Deep Networks with Stochastic Depth", ECCV 2016; Zhang & He, "Accelerating
Training of Transformer-Based Language Models with Progressive Layer Dropping", NeurIPS 2020.
Reference: ``torchvision.ops.stochastic_depth`` (tests/model/test_stochastic_depth.py::
test_drop_path_matches_torchvision, the same mask from the same seed).
Caveats: the saving equals the expected fraction of skipped blocks (about p_L / 2 with the linear
rule); the network is evaluated with every block, and too much dropping costs accuracy in short
runs, where its regularisation is not needed.
Book: book/model/curriculum.ipynb
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import torch
from torch import nn

from ..core.technique import Stage, Technique

__all__ = ["drop_path", "linear_drop_rates", "pld_keep_schedule", "DropBlock", "StochasticDepth"]


def drop_path(x: torch.Tensor, p: float, training: bool = True, mode: str = "row",
              mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Zero whole examples (``row``) or the whole batch (``batch``) of a residual branch output with
    probability ``p``, scaling survivors by 1/(1-p). Draws the mask like
    ``torchvision.ops.stochastic_depth`` (same global RNG call), or uses ``mask`` if given."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"drop probability must be in [0, 1], got {p}.")
    if mode not in ("row", "batch"):
        raise ValueError(f"mode must be 'row' or 'batch', got {mode!r}.")
    if not training or p == 0.0:
        return x
    keep = 1.0 - p
    if mask is None:
        size = [x.shape[0]] + [1] * (x.dim() - 1) if mode == "row" else [1] * x.dim()
        mask = torch.empty(size, dtype=x.dtype, device=x.device).bernoulli_(keep)
    if keep > 0.0:
        mask = mask / keep
    return x * mask


def linear_drop_rates(n_blocks: int, p_last: float) -> list:
    """Huang et al.'s linear decay rule: block l (1-based) is dropped with probability l/L * p_last."""
    if not 0.0 <= p_last < 1.0:
        raise ValueError(f"p_last must be in [0, 1), got {p_last}.")
    return [p_last * (i + 1) / n_blocks for i in range(n_blocks)]


def pld_keep_schedule(progress: float, theta_bar: float = 0.5, gamma: float = 10.0) -> float:
    """Progressive layer dropping's global keep probability theta(t) = (1 - theta_bar) exp(-gamma t)
    + theta_bar: all layers kept at the start, decaying to ``theta_bar``."""
    if not 0.0 < theta_bar <= 1.0:
        raise ValueError(f"theta_bar must be in (0, 1], got {theta_bar}.")
    return (1 - theta_bar) * math.exp(-gamma * progress) + theta_bar


class DropBlock(nn.Module):
    """Wrap a residual block ``f(x) = x + g(x)`` (input and output of the same shape). In training
    the whole block is skipped with probability ``p`` ("batch" mode: no compute) or its residual
    ``f(x) - x`` is dropped per example ("row" mode); survivors are rescaled by 1/(1-p)."""

    def __init__(self, block: nn.Module, p: float = 0.0, mode: str = "batch") -> None:
        super().__init__()
        self.block, self.p, self.mode = block, p, mode
        self.generator: Optional[torch.Generator] = None
        self.skipped = 0
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return self.block(x)
        self.calls += 1
        if self.mode == "batch":
            if float(torch.rand((), generator=self.generator)) < self.p:
                self.skipped += 1
                return x
            return x + (self.block(x) - x) / (1.0 - self.p)
        return x + drop_path(self.block(x) - x, self.p, True, "row")


@dataclass
class StochasticDepth(Technique):
    """Wrap each block of ``model.blocks`` (core GPT, or any residual ``blocks`` container) in a
    :class:`DropBlock` with the linear rule up to ``p_last``; with ``progressive`` the rates are
    scaled over time by PLD's schedule (drop = (1 - theta(t)) / (1 - theta_bar) * rule)."""

    p_last: float = 0.5
    mode: str = "batch"
    progressive: bool = False
    theta_bar: float = 0.5
    gamma: float = 10.0
    seed: int = 0
    stage = Stage.SURGERY

    def setup_model(self, model: nn.Module, state) -> nn.Module:
        blocks = getattr(model, "blocks", None)
        if not isinstance(blocks, (nn.ModuleList, nn.Sequential)) or len(blocks) == 0:
            raise ValueError("StochasticDepth needs a model with a `blocks` ModuleList/Sequential of "
                             "residual blocks (same input and output shape), e.g. accel_lib.core.GPT.")
        self._rates = linear_drop_rates(len(blocks), self.p_last)
        g = torch.Generator().manual_seed(self.seed)
        for i, b in enumerate(list(blocks)):
            w = DropBlock(b, self._rates[i], self.mode)
            w.generator = g
            blocks[i] = w
        self._wrapped = list(blocks)
        self._set(0.0)
        return model

    def _set(self, progress: float) -> None:
        f = 1.0
        if self.progressive:
            f = (1 - pld_keep_schedule(progress, self.theta_bar, self.gamma)) / (1 - self.theta_bar)
        for w, r in zip(self._wrapped, self._rates):
            w.p = r * f

    def on_batch(self, batch, state):
        if self.progressive:
            self._set(state.progress)
        return batch
