"""Batch-size ramp-up: instead of decaying the learning rate, grow the batch at the same points.

Speeds up: wall-clock, by replacing the late, small-step part of training with fewer, larger
steps (which parallelise better) that have the same effective noise scale ``lr * N / B``.
Paper: Smith, Kindermans, Ying, Le, "Don't Decay the Learning Rate, Increase the Batch Size",
ICLR 2018.
Reference: none in PyTorch; tests/optim/test_batch_ramp.py checks the batch sequence, that every
example is seen once per epoch, and the noise-scale equivalence with a step schedule.
Caveats: the gain is in steps (and time only on hardware that runs a larger batch faster per
example); BatchNorm statistics change with the batch; the largest batch must stay below the
critical batch size, after which the LR must decay anyway.
Book: book/optim/large_batch.ipynb
"""
from __future__ import annotations

from typing import Iterator, Optional, Sequence

import torch

from accel_lib.core import Batch, ImageLoader

__all__ = ["ramp_batch_sizes", "equivalent_lr_multipliers", "BatchRampLoader"]


def ramp_batch_sizes(base: int, milestones: Sequence[float], factor: int, epochs: int) -> list:
    """Batch size per epoch: ``base`` multiplied by ``factor`` at each milestone (fraction of the
    ``epochs``), mirroring a step schedule that divides the LR by ``factor`` there."""
    if base < 1 or factor < 1 or epochs < 1:
        raise ValueError(f"base, factor and epochs must be positive integers, got {base}, {factor}, {epochs}.")
    for m in milestones:
        if not 0 <= m <= 1:
            raise ValueError(f"milestones are fractions of training in [0, 1], got {m!r}.")
    return [base * factor ** sum(e / epochs >= m - 1e-12 for m in milestones) for e in range(epochs)]


def equivalent_lr_multipliers(batch_sizes: Sequence[int]) -> list:
    """The LR multiplier a fixed-batch run would need to have the same noise scale ``lr / B``
    per epoch: ``B_0 / B_e`` (a step schedule)."""
    return [batch_sizes[0] / b for b in batch_sizes]


class BatchRampLoader(ImageLoader):
    """An :class:`~accel_lib.core.ImageLoader` whose batch size changes from epoch to epoch.

    ``batch_sizes[e]`` is the batch of epoch ``e`` (the last value is kept afterwards). Each epoch
    still visits every example once (a partial last batch is dropped). The loop counts epochs as
    samples / ``num_samples``, so choose a dataset size divisible by every batch size.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_sizes: Sequence[int], **kw) -> None:
        if not batch_sizes or min(batch_sizes) < 1 or max(batch_sizes) > len(x):
            raise ValueError(f"batch_sizes must be in [1, {len(x)}], got {list(batch_sizes)!r}.")
        super().__init__(x, y, batch_sizes[0], **kw)
        self.batch_sizes = list(batch_sizes)

    def batch_size_at(self, epoch: int) -> int:
        return self.batch_sizes[min(epoch, len(self.batch_sizes) - 1)]

    @property
    def num_samples(self) -> int:
        return len(self.x)

    def iter_epoch(self, epoch: int, start: int = 0) -> Iterator[Batch]:
        self.batch_size = self.batch_size_at(epoch)
        if start:
            raise ValueError("BatchRampLoader cannot resume mid-epoch; checkpoint at epoch ends.")
        for i in range(len(self.x) // self.batch_size):
            yield self.batch(epoch, i)
