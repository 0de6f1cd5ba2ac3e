"""Dynamic sparse training (RigL): train a sparse network from the start, periodically dropping the
smallest-magnitude active weights and regrowing as many where the dense gradient is largest.

Speeds up: training FLOPs and memory from the first step (sparse-to-sparse): the number of active
weights, hence theoretical FLOPs, stays fixed while the connectivity adapts.
Paper: Evci et al., "Rigging the Lottery: Making All Tickets Winners", ICML 2020; Mocanu et al.,
"Scalable training of artificial neural networks with adaptive sparse connectivity" (SET), 2018.
Reference: none in PyTorch; tests/model/test_rigl.py checks the drop-and-grow update against a
direct selection written in the test, and that the active count never changes.
Caveats: the FLOPs saving needs sparse kernels to become time; here weights are masked dense
tensors. The dense gradient it reads at update steps costs a dense backward (cheap here: autograd
computes it anyway).
Book: book/model/compression.ipynb
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import torch
from torch import nn

from ..core.technique import Stage, Technique
from .magnitude_pruning import apply_masks, check_sparsity, prunable_weights

__all__ = ["random_mask", "rigl_update", "drop_fraction_schedule", "RigL"]


def random_mask(w: torch.Tensor, sparsity: float, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """A uniformly random 0/1 mask with exactly ``round((1 - sparsity) * numel)`` ones."""
    check_sparsity(sparsity)
    keep = w.numel() - round(sparsity * w.numel())
    mask = torch.zeros(w.numel(), dtype=w.dtype, device=w.device)
    mask[torch.randperm(w.numel(), generator=generator)[:keep].to(w.device)] = 1
    return mask.view_as(w)


@torch.no_grad()
def rigl_update(w: torch.Tensor, grad: torch.Tensor, mask: torch.Tensor, drop_fraction: float) -> torch.Tensor:
    """One drop-and-grow step. Drops ``k = round(drop_fraction * active)`` active weights of smallest
    ``|w|``, then activates the k inactive weights (not just dropped) of largest ``|grad|``. Returns the new
    mask; the number of ones is unchanged. Grown weights should be set to zero by the caller."""
    if not 0.0 <= drop_fraction <= 1.0:
        raise ValueError(f"drop_fraction must be in [0, 1], got {drop_fraction}.")
    if w.shape != grad.shape or w.shape != mask.shape:
        raise ValueError(f"w {tuple(w.shape)}, grad {tuple(grad.shape)} and mask {tuple(mask.shape)} must match.")
    m = mask.reshape(-1).bool()
    k = min(round(drop_fraction * int(m.sum())), int((~m).sum()))
    if k == 0:
        return mask.clone()
    score_drop = torch.where(m, w.reshape(-1).abs(), torch.full_like(w.reshape(-1), math.inf))
    drop = torch.topk(score_drop, k, largest=False).indices
    new = m.clone()
    new[drop] = False
    score_grow = torch.where(m, torch.full_like(w.reshape(-1), -math.inf), grad.reshape(-1).abs())
    grow = torch.topk(score_grow, k, largest=True).indices          # never the just-dropped or kept
    new[grow] = True
    return new.view_as(mask).to(mask.dtype)


def drop_fraction_schedule(progress: float, initial: float = 0.3, end: float = 0.75) -> float:
    """RigL's cosine decay of the drop fraction: initial/2 * (1 + cos(pi * t / end)), 0 after ``end``."""
    if progress >= end:
        return 0.0
    return initial / 2 * (1 + math.cos(math.pi * progress / end))


@dataclass
class RigL(Technique):
    """Sparse-from-scratch training with drop-and-grow every ``update_every`` of progress until ``end``."""

    sparsity: float = 0.8
    drop_fraction: float = 0.3
    update_every: float = 0.05
    end: float = 0.75
    seed: int = 0

    stage = Stage.SURGERY

    def __post_init__(self) -> None:
        check_sparsity(self.sparsity)
        self.masks: Optional[list] = None      # state, not hyperparameters

    def setup_model(self, model: nn.Module, state) -> nn.Module:
        ws = [p for _, p in prunable_weights(model)]
        if len(ws) > 1:
            ws = ws[:-1]                                   # keep the small classifier head dense
        if not ws:
            raise ValueError("no Conv/Linear weights to sparsify in this model.")
        g = torch.Generator().manual_seed(self.seed)
        self._params = ws
        self.masks = [random_mask(w, self.sparsity, g) for w in ws]
        apply_masks(ws, self.masks)
        self._bucket = 0
        return model

    def after_backward(self, state) -> None:
        bucket = int(state.progress / self.update_every)
        if bucket > self._bucket and state.progress < self.end:
            self._bucket = bucket
            frac = drop_fraction_schedule(state.progress, self.drop_fraction, self.end)
            for i, w in enumerate(self._params):
                if w.grad is None:
                    continue
                new = rigl_update(w, w.grad, self.masks[i], frac)
                with torch.no_grad():
                    w.mul_(new).mul_(self.masks[i])          # grown weights start at zero
                self.masks[i] = new

    def after_step(self, state) -> None:
        apply_masks(self._params, self.masks)

    def state_dict(self) -> dict:
        return {"masks": self.masks, "bucket": self._bucket}

    def load_state_dict(self, state: dict) -> None:
        self.masks, self._bucket = state["masks"], state["bucket"]
