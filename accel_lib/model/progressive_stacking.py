"""Progressive stacking: train a shallow transformer, then double its depth by stacking copies of
its trained layers on top, and continue training; repeat until the full depth.

Speeds up: time-to-target loss of the deep model, because the early part of training runs on a
network with half (or a quarter) of the layers, at half (a quarter) of the cost per step, and the
copies start from weights that already encode useful attention patterns.
Paper: Gong et al., "Efficient Training of BERT by Progressively Stacking", ICML 2019; Yang et al.,
"Progressively Stacking 2.0" (MSLT), 2020.
Reference: none in PyTorch; tests/model/test_progressive_stacking.py checks that the copies equal
the originals, that the optimizer receives the new parameters, and that training continues.
Caveats: stacking is not function-preserving (the loss jumps at each stage, then recovers); the
schedule of stages matters, and short runs may not recover the jump (measured on the page).
Book: book/model/curriculum.ipynb
"""
from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass

from torch import nn

from ..core.technique import Stage, Technique

__all__ = ["stack_layers", "depth_schedule", "ProgressiveStacking"]


def stack_layers(blocks: nn.ModuleList) -> list:
    """Double ``blocks`` in place by appending deep copies in the same order (StackBERT: layer
    L + i starts as a copy of layer i); returns the new modules."""
    if len(blocks) == 0:
        raise ValueError("no blocks to stack.")
    new = [copy.deepcopy(b) for b in blocks]
    for b in new:
        blocks.append(b)
    return new


def depth_schedule(progress: float, final_depth: int, stages: tuple = (0.25, 0.5)) -> int:
    """Depth at ``progress``: final_depth / 2^k, where k is the number of stage boundaries not yet
    reached (with two boundaries: a quarter of the depth, then half, then all)."""
    if final_depth % (2 ** len(stages)):
        raise ValueError(f"final_depth {final_depth} must be divisible by 2^{len(stages)} to double "
                         f"{len(stages)} times.")
    if list(stages) != sorted(stages) or not all(0 < s < 1 for s in stages):
        raise ValueError(f"stages must be increasing fractions in (0, 1), got {stages}.")
    remaining = sum(1 for s in stages if progress < s)
    return final_depth // 2 ** remaining


@dataclass
class ProgressiveStacking(Technique):
    """Start ``model.blocks`` at final_depth / 2^len(stages) layers and double them at each stage
    boundary; new parameters join the optimizer as a param group with the same hyperparameters."""

    final_depth: int = 4
    stages: tuple = (0.25, 0.5)
    stage = Stage.SURGERY

    def setup_model(self, model: nn.Module, state) -> nn.Module:
        blocks = getattr(model, "blocks", None)
        if not isinstance(blocks, nn.ModuleList):
            raise ValueError("ProgressiveStacking needs a model with a `blocks` ModuleList (accel_lib.core.GPT).")
        start = depth_schedule(0.0, self.final_depth, self.stages)
        if len(blocks) < start:
            raise ValueError(f"the model has {len(blocks)} blocks; need at least {start} to start from.")
        del blocks[start:]
        if hasattr(model, "cfg"):
            model.cfg = dataclasses.replace(model.cfg, n_layer=start)   # a copy: configs may be shared
        self._model = model
        return model

    def on_batch(self, batch, state):
        blocks = self._model.blocks
        target = depth_schedule(state.progress, self.final_depth, self.stages)
        while len(blocks) < target:
            new = stack_layers(blocks)
            params = [p for b in new for p in b.parameters()]
            ref = state.optimizer.param_groups[0]
            group = {k: v for k, v in ref.items() if k != "params"}
            state.optimizer.add_param_group({**group, "params": params})
            if hasattr(self._model, "cfg"):
                self._model.cfg = dataclasses.replace(self._model.cfg, n_layer=len(blocks))
        return batch
