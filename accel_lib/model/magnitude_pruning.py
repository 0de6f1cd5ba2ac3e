"""Gradual magnitude pruning: during training, zero the smallest-magnitude weights, raising the
sparsity along a cubic schedule from 0 to a target (dense-to-sparse training).

Speeds up: inference and, with sparse kernels or structured sparsity, training FLOPs and model
bytes: the final network keeps a fraction (1 - s) of its weights at close to dense accuracy.
Paper: Zhu & Gupta, "To prune, or not to prune", 2017 (the cubic schedule); Han et al., "Learning
both Weights and Connections", NeurIPS 2015.
Reference: ``torch.nn.utils.prune.l1_unstructured`` / ``global_unstructured``
(tests/model/test_magnitude_pruning.py::test_masks_match_torch_prune).
Caveats: unstructured zeros are still multiplied by dense kernels, so training wall-clock does not
fall on CPUs or GPUs without sparse support (the page reports the theoretical FLOPs, the stored
bytes and the unchanged step time); pruning late and slowly keeps accuracy.
Book: book/model/compression.ipynb
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional

import torch
from torch import nn

from ..core.technique import Stage, Technique

__all__ = ["check_sparsity", "magnitude_mask", "global_magnitude_masks", "gmp_schedule", "prunable_weights",
           "apply_masks", "density_report", "GradualMagnitudePruning"]


def check_sparsity(s: float) -> float:
    if not isinstance(s, (int, float)) or not 0.0 <= s < 1.0:
        raise ValueError(f"sparsity must be in [0, 1) (the fraction of weights set to zero), got {s!r}.")
    return float(s)


def magnitude_mask(w: torch.Tensor, sparsity: float) -> torch.Tensor:
    """A 0/1 mask (same shape and dtype as ``w``) zeroing the ``round(sparsity * numel)`` entries of
    smallest ``|w|``, selected the way ``prune.l1_unstructured`` selects them."""
    check_sparsity(sparsity)
    n_prune = round(sparsity * w.numel())
    mask = torch.ones_like(w)
    if n_prune:
        idx = torch.topk(w.detach().abs().reshape(-1), k=n_prune, largest=False).indices
        mask.view(-1)[idx] = 0
    return mask


def global_magnitude_masks(weights: list, sparsity: float) -> list:
    """Masks for several tensors pruned together: the smallest ``|w|`` over all of them are zeroed
    (``prune.global_unstructured`` with ``L1Unstructured``)."""
    check_sparsity(sparsity)
    flat = torch.cat([w.detach().reshape(-1) for w in weights])
    m = magnitude_mask(flat, sparsity)
    out, i = [], 0
    for w in weights:
        out.append(m[i:i + w.numel()].view_as(w))
        i += w.numel()
    return out


def gmp_schedule(progress: float, final_sparsity: float, start: float = 0.1, end: float = 0.7,
                 initial_sparsity: float = 0.0) -> float:
    """Zhu & Gupta's cubic ramp: s(t) = s_f + (s_i - s_f) * (1 - (t - start) / (end - start))^3,
    constant before ``start`` and after ``end``; ``progress`` in [0, 1]."""
    check_sparsity(final_sparsity)
    if not 0.0 <= start < end <= 1.0:
        raise ValueError(f"need 0 <= start < end <= 1, got start={start}, end={end}.")
    u = min(1.0, max(0.0, (progress - start) / (end - start)))
    return final_sparsity + (initial_sparsity - final_sparsity) * (1.0 - u) ** 3


def prunable_weights(model: nn.Module) -> list:
    """(name, parameter) of the weights of Conv and Linear layers (biases and norms stay dense)."""
    return [(f"{n}.weight", m.weight) for n, m in model.named_modules()
            if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear)) and m.weight.requires_grad]


@torch.no_grad()
def apply_masks(params: Iterable[torch.Tensor], masks: Iterable[torch.Tensor]) -> None:
    for p, m in zip(params, masks):
        p.mul_(m)


def density_report(model: nn.Module) -> dict:
    """Parameters, non-zeros among prunable weights, and bytes stored dense (fp32) vs as a sparse
    COO-free bitmap + values (1 bit per weight plus 4 bytes per non-zero)."""
    ws = [p for _, p in prunable_weights(model)]
    total = sum(w.numel() for w in ws)
    nnz = sum(int((w != 0).sum()) for w in ws)
    return {"prunable": total, "nonzero": nnz, "density": nnz / max(total, 1),
            "dense_bytes": 4 * total, "bitmap_bytes": total // 8 + 4 * nnz}


@dataclass
class GradualMagnitudePruning(Technique):
    """Prune Conv/Linear weights by magnitude along :func:`gmp_schedule`; masks are recomputed every
    ``update_every`` of progress and re-applied after every optimizer step. ``scope`` is "layer"
    (each tensor to the same sparsity) or "global" (one threshold over all)."""

    final_sparsity: float = 0.8
    start: float = 0.1
    end: float = 0.7
    update_every: float = 0.05
    scope: str = "layer"
    skip_last: bool = True

    stage = Stage.SURGERY

    def __post_init__(self) -> None:
        check_sparsity(self.final_sparsity)
        self.masks: Optional[list] = None      # state, not hyperparameters
        self.current = 0.0
        gmp_schedule(0.0, self.final_sparsity, self.start, self.end)
        if self.scope not in ("layer", "global"):
            raise ValueError(f"scope must be 'layer' or 'global', got {self.scope!r}.")

    def setup_model(self, model: nn.Module, state) -> nn.Module:
        ws = [p for _, p in prunable_weights(model)]
        if self.skip_last and len(ws) > 1:
            ws = ws[:-1]          # the classifier head is small and sensitive: keep it dense
        if not ws:
            raise ValueError("no Conv/Linear weights to prune in this model.")
        self._params = ws
        self.masks = [torch.ones_like(w) for w in ws]
        self._last_update = -1.0
        return model

    def after_step(self, state) -> None:
        p = state.progress
        target = gmp_schedule(p, self.final_sparsity, self.start, self.end)
        due = p - self._last_update >= self.update_every or (p >= self.end and self.current < target)
        if target > self.current and due:
            if self.scope == "global":
                self.masks = global_magnitude_masks(self._params, target)
            else:
                self.masks = [magnitude_mask(w, target) for w in self._params]
            self.current, self._last_update = target, p
        apply_masks(self._params, self.masks)

    def state_dict(self) -> dict:
        return {"masks": self.masks, "current": self.current, "last": self._last_update}

    def load_state_dict(self, state: dict) -> None:
        self.masks, self.current, self._last_update = state["masks"], state["current"], state["last"]
