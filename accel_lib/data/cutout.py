"""Cutout (random erasing): blank a random square of each image.

Speeds up: time-to-accuracy, as cheap regional dropout on the input that discourages relying on one
image region; one masked multiply per batch on the device.
Paper: DeVries & Taylor, "Improved Regularization of Convolutional Neural Networks with Cutout",
2017 (and Zhong et al., "Random Erasing Data Augmentation", AAAI 2020).
Reference: torchvision.transforms.v2.functional.erase (tests/data/test_cutout.py::test_matches_torchvision_erase).
Caveats: a harder task again, so it helps long runs more than short ones; with normalised inputs the
fill value 0 is the dataset mean, with uint8 images it is black.
Book: book/data/regularization.ipynb
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch

from ..core.technique import Batch, Technique
from ._util import check_images

__all__ = ["cutout_mask", "cutout_batch", "Cutout"]


def cutout_mask(b: int, h: int, w: int, size: int, generator: Optional[torch.Generator] = None,
                centers: Optional[torch.Tensor] = None, device=None) -> torch.Tensor:
    """Boolean masks ``(B, 1, H, W)``, true inside a ``size x size`` square per image, clipped at the
    borders. ``centers`` ``(B, 2)`` holds ``(cy, cx)``; drawn uniformly when not given (so a square
    may hang off the edge, as in the paper)."""
    if size < 0:
        raise ValueError(f"size must be >= 0 pixels, got {size}.")
    if centers is None:
        cy = torch.randint(h, (b,), generator=generator)
        cx = torch.randint(w, (b,), generator=generator)
        centers = torch.stack([cy, cx], 1)
    if centers.shape != (b, 2):
        raise ValueError(f"centers must have shape ({b}, 2), got {tuple(centers.shape)}.")
    centers = centers.to(device)
    y1 = (centers[:, 0] - size // 2)[:, None, None]
    x1 = (centers[:, 1] - size // 2)[:, None, None]
    rows = torch.arange(h, device=device)[None, :, None]
    cols = torch.arange(w, device=device)[None, None, :]
    m = (rows >= y1) & (rows < y1 + size) & (cols >= x1) & (cols < x1 + size)
    return m[:, None]


def cutout_batch(x: torch.Tensor, size: int, generator: Optional[torch.Generator] = None,
                 centers: Optional[torch.Tensor] = None, value: float = 0.0) -> torch.Tensor:
    """Fill a random ``size x size`` square of each image of ``x`` (B, C, H, W) with ``value``."""
    check_images(x)
    b, _, h, w = x.shape
    m = cutout_mask(b, h, w, size, generator, centers, device=x.device)
    return x.masked_fill(m, value)


@dataclass
class Cutout(Technique):
    """Cutout of a ``size``-pixel square on every training image (fill 0 = the mean after normalising)."""

    size: int = 8
    seed: int = 0

    def __post_init__(self) -> None:
        if self.size < 0:
            raise ValueError(f"size must be >= 0, got {self.size}.")
        self._g = torch.Generator().manual_seed(self.seed)

    def on_batch(self, batch: Batch, state) -> Batch:
        return Batch(cutout_batch(batch.x, self.size, self._g), batch.y, batch.weight)

    def state_dict(self) -> dict:
        return {"generator": self._g.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self._g.set_state(state["generator"])
