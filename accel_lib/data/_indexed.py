"""An in-memory image loader that chooses which examples each batch holds and remembers them, so a
technique can attribute per-example losses (InfoBatch) or restrict the pool (curriculum).

Batches are augmented on the device like :class:`accel_lib.core.ImageLoader` (crop, flip,
normalise) and are pure functions of (seed, epoch, batch index, technique state).
"""
from __future__ import annotations

from collections import deque
from typing import Iterator, Optional, Sequence

import torch

from ..core.datasets import CIFAR10_MEAN, CIFAR10_STD
from ..core.loaders import batch_crop, batch_flip, normalize
from ..core.technique import Batch
from ._util import check_images

__all__ = ["IndexedImageLoader"]


class IndexedImageLoader:
    """Base loader: ``plan(epoch)`` returns the indices (and optional weights) of one pass; the
    default is a shuffled pass over everything. ``pending`` holds the indices of batches yielded
    but not yet consumed by a technique (first in, first out)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, *, crop_pad: int = 0,
                 flip: bool = False, seed: int = 0, device: Optional[torch.device | str] = None,
                 mean: Sequence[float] = CIFAR10_MEAN, std: Sequence[float] = CIFAR10_STD) -> None:
        check_images(x)
        if x.dtype != torch.uint8:
            raise ValueError(f"expects uint8 images, got {x.dtype}; the loader normalises them.")
        if len(x) != len(y):
            raise ValueError(f"{len(x)} images but {len(y)} labels.")
        if not 1 <= batch_size <= len(x):
            raise ValueError(f"batch_size must be in [1, {len(x)}], got {batch_size}.")
        device = torch.device(device) if device is not None else x.device
        self.x, self.y = x.to(device), y.to(device)
        self.batch_size, self.crop_pad, self.flip, self.seed = int(batch_size), crop_pad, flip, seed
        self.mean, self.std = mean, std
        self.pending: deque = deque()
        self.epoch = 0

    @property
    def num_samples(self) -> int:
        return len(self) * self.batch_size

    def __len__(self) -> int:
        return len(self.x) // self.batch_size

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def generator(self, epoch: int, index: int = -1) -> torch.Generator:
        return torch.Generator().manual_seed((self.seed * 1_000_003 + epoch) * 100_003 + index + 1)

    def plan(self, epoch: int) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        return torch.randperm(len(self.x), generator=self.generator(epoch)), None

    def make_batch(self, idx: torch.Tensor, weight: Optional[torch.Tensor], epoch: int, index: int) -> Batch:
        self.pending.append(idx)
        dev_idx = idx.to(self.x.device)
        xb = self.x[dev_idx]
        g = self.generator(epoch, index)
        if self.crop_pad:
            xb = batch_crop(xb, self.crop_pad, g)
        if self.flip:
            xb = batch_flip(xb, g)
        w = None if weight is None else weight.to(self.x.device)
        return Batch(normalize(xb, self.mean, self.std), self.y[dev_idx], w)

    def iter_epoch(self, epoch: int, start: int = 0) -> Iterator[Batch]:
        idx, w = self.plan(epoch)
        n = len(idx) // self.batch_size
        for i in range(start, n):
            sl = slice(i * self.batch_size, (i + 1) * self.batch_size)
            yield self.make_batch(idx[sl], None if w is None else w[sl], epoch, i)

    def __iter__(self) -> Iterator[Batch]:
        epoch, self.epoch = self.epoch, self.epoch + 1
        return self.iter_epoch(epoch)
