"""Batched on-device augmentation (airbench-style): flip, crop and translate a whole batch in a few
tensor ops, instead of a per-image CPU pipeline.

Speeds up: wall-clock, by removing the input pipeline as a bottleneck: one gather per batch on the
training device replaces B Python calls of PIL/tensor transforms and DataLoader collation.
Paper: Jordan, "94% on CIFAR-10 in 3.29 seconds on a single GPU" (airbench), 2024; Page, "How to
train your ResNet", 2018.
Reference: torchvision.transforms.v2.RandomCrop / RandomHorizontalFlip / RandomAffine per image
(tests/data/test_batch_augment.py); the per-image pipeline is :func:`per_image_loader`.
Caveats: only for augmentations that vectorise (flips, crops, translations, masks, mixing); the
dataset must fit in device memory as uint8; per-image randomness is drawn per batch, so the
sequence of draws differs from a DataLoader's (the distribution is the same).
Book: book/data/regularization.ipynb
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch

from ..core.loaders import batch_crop, batch_flip
from ..core.technique import Batch, Technique
from ._util import check_images

__all__ = ["batch_translate", "augment_batch", "per_image_transform", "per_image_loader", "BatchAugment"]


def batch_translate(x: torch.Tensor, max_shift: int, generator: Optional[torch.Generator] = None,
                    shifts: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Shift each image of ``x`` (B, C, H, W) by integer ``(dy, dx)`` in ``[-max_shift, max_shift]``,
    filling uncovered pixels with 0 (one gather). ``shifts`` ``(B, 2)`` may be given."""
    check_images(x)
    if max_shift < 0:
        raise ValueError(f"max_shift must be >= 0 pixels, got {max_shift}.")
    b, c, h, w = x.shape
    if shifts is None:
        shifts = torch.randint(-max_shift, max_shift + 1, (b, 2), generator=generator)
    if shifts.shape != (b, 2):
        raise ValueError(f"shifts must have shape ({b}, 2), got {tuple(shifts.shape)}.")
    shifts = shifts.to(x.device)
    rows = torch.arange(h, device=x.device)[None, :] - shifts[:, :1]   # source row of each output row
    cols = torch.arange(w, device=x.device)[None, :] - shifts[:, 1:]
    valid = ((rows >= 0) & (rows < h))[:, :, None] & ((cols >= 0) & (cols < w))[:, None, :]  # (B, H, W)
    r = rows.clamp(0, h - 1)[:, None, :, None]
    cc = cols.clamp(0, w - 1)[:, None, None, :]
    bi = torch.arange(b, device=x.device)[:, None, None, None]
    ci = torch.arange(c, device=x.device)[None, :, None, None]
    out = x[bi, ci, r, cc]
    return out * valid[:, None].to(out.dtype)


def augment_batch(x: torch.Tensor, crop_pad: int = 2, flip: bool = True, translate: int = 0,
                  generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """The airbench augmentation on a batch: random crop of the padded image (reflect padding),
    random horizontal flip, optional zero-fill translation. Works on uint8 or float batches."""
    check_images(x)
    if crop_pad:
        x = batch_crop(x, crop_pad, generator)
    if flip:
        x = batch_flip(x, generator)
    if translate:
        x = batch_translate(x, translate, generator)
    return x


def per_image_transform(crop_pad: int = 2, flip: bool = True):
    """The same augmentation as a per-image torchvision v2 pipeline (uint8 in, float normalised out)."""
    from torchvision.transforms import v2

    from ..core.datasets import CIFAR10_MEAN, CIFAR10_STD
    ops = []
    if crop_pad:
        ops.append(v2.RandomCrop(32, padding=crop_pad, padding_mode="reflect"))
    if flip:
        ops.append(v2.RandomHorizontalFlip())
    ops += [v2.ToDtype(torch.float32, scale=True), v2.Normalize(CIFAR10_MEAN, CIFAR10_STD)]
    return v2.Compose(ops)


class _TensorImages(torch.utils.data.Dataset):
    def __init__(self, x: torch.Tensor, y: torch.Tensor, transform) -> None:
        self.x, self.y, self.transform = x, y, transform

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int):
        return self.transform(self.x[i]), self.y[i]


def per_image_loader(x: torch.Tensor, y: torch.Tensor, batch_size: int, crop_pad: int = 2, flip: bool = True,
                     num_workers: int = 0, seed: int = 0) -> torch.utils.data.DataLoader:
    """The conventional pipeline: a Dataset applying the torchvision transform to each image and a
    shuffling DataLoader that collates the results (the baseline of the input-pipeline benchmark)."""
    check_images(x)
    if x.dtype != torch.uint8:
        raise TypeError(f"expects uint8 images, got {x.dtype}.")
    g = torch.Generator().manual_seed(seed)
    return torch.utils.data.DataLoader(_TensorImages(x, y, per_image_transform(crop_pad, flip)),
                                       batch_size=batch_size, shuffle=True, drop_last=True,
                                       num_workers=num_workers, generator=g)


@dataclass
class BatchAugment(Technique):
    """Extra batched augmentation inside the loop (on top of what the loader did): a random
    translation by up to ``translate`` pixels and/or a flip, on the device, one gather per batch."""

    translate: int = 2
    flip: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        if self.translate < 0:
            raise ValueError(f"translate must be >= 0, got {self.translate}.")
        self._g = torch.Generator().manual_seed(self.seed)

    def on_batch(self, batch: Batch, state) -> Batch:
        return Batch(augment_batch(batch.x, 0, self.flip, self.translate, self._g), batch.y, batch.weight)

    def state_dict(self) -> dict:
        return {"generator": self._g.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self._g.set_state(state["generator"])
