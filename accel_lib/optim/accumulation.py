"""Gradient accumulation: sum the gradients of several micro-batches before one optimizer step,
so a memory-limited device trains with the large batch it cannot hold.

Speeds up: nothing by itself (it costs the same compute per example); it makes large-batch
recipes (linear scaling, LARS, LAMB) and a fixed global batch possible on small devices, and it is
exactly one large batch when the model has no batch-coupled layers.
Paper: folklore of large-batch training; see Goyal et al., 2017 and Ott et al., "Scaling Neural
Machine Translation", 2018.
Reference: ``accel_lib.core.train(accumulation=k)`` does the accumulation; equality with one
large batch is tested in tests/optim/test_accumulation.py::test_equals_one_large_batch.
Caveats: BatchNorm sees micro-batches, so with BN it is *not* the large batch (its statistics
are noisier); each micro-batch must carry the same number of examples for the mean to be exact;
it does not save time, only memory.
Book: book/optim/large_batch.ipynb
"""
from __future__ import annotations

from typing import Tuple

from torch import nn

__all__ = ["plan_accumulation", "has_batch_coupling"]


def plan_accumulation(global_batch: int, max_micro_batch: int) -> Tuple[int, int]:
    """``(micro_batch, steps)`` with ``micro_batch * steps == global_batch``, the fewest
    accumulation steps whose micro-batch fits ``max_micro_batch``."""
    if global_batch < 1 or max_micro_batch < 1:
        raise ValueError(f"batch sizes must be positive, got {global_batch!r} and {max_micro_batch!r}.")
    for steps in range(1, global_batch + 1):
        if global_batch % steps == 0 and global_batch // steps <= max_micro_batch:
            return global_batch // steps, steps
    raise AssertionError("unreachable")  # steps == global_batch always fits


def has_batch_coupling(model: nn.Module) -> bool:
    """True if ``model`` has layers whose output for one example depends on the others in the
    batch (BatchNorm in training mode), so accumulation differs from one large batch."""
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
