"""RandAugment / TrivialAugment on uint8 batches: torchvision's policies, one draw per image.

Speeds up: time-to-accuracy on long runs, by a strong, search-free augmentation with two knobs
(number of ops N, magnitude M) or none (TrivialAugment).
Paper: Cubuk, Zoph, Shlens, Le, "RandAugment: Practical automated data augmentation with a reduced
search space", NeurIPS 2020; Mueller & Hutter, "TrivialAugment", ICCV 2021.
Reference: torchvision.transforms.v2.RandAugment / TrivialAugmentWide, which this module calls per
image (tests/data/test_randaugment.py::test_each_image_matches_torchvision).
Caveats: two traps this module closes: (1) a torchvision v2 policy called on a batch tensor draws
ONE op for the whole batch; (2) the colour ops assume uint8 [0, 255] (or floats in [0, 1]), so on
normalised floats they are wrong. Per-image ops run a Python loop: slower than the batched flips and
crops, and on short runs a strong augmentation costs accuracy.
Book: book/data/regularization.ipynb
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

import torch

from ..core.datasets import CIFAR10_MEAN, CIFAR10_STD
from ..core.technique import Batch, Technique
from ._util import check_images, from_uint8, to_uint8

__all__ = ["make_policy", "augment_each", "RandAugment"]


def make_policy(policy: str = "randaugment", num_ops: int = 2, magnitude: int = 9):
    """The torchvision v2 transform for ``policy`` in {"randaugment", "trivialaugment"}."""
    from torchvision.transforms import v2
    if policy == "randaugment":
        if num_ops < 0 or not 0 <= magnitude <= 30:
            raise ValueError(f"need num_ops >= 0 and magnitude in [0, 30], got {num_ops}, {magnitude}.")
        return v2.RandAugment(num_ops=num_ops, magnitude=magnitude)
    if policy == "trivialaugment":
        return v2.TrivialAugmentWide()
    raise ValueError(f"unknown policy {policy!r}; use 'randaugment' or 'trivialaugment'.")


def augment_each(x: torch.Tensor, transform, generator: Optional[torch.Generator] = None,
                 seeds: Optional[Sequence[int]] = None) -> torch.Tensor:
    """Apply ``transform`` to each uint8 image of ``x`` (B, C, H, W) with its own random draw.

    Image ``i`` is transformed under ``torch.manual_seed(seeds[i])`` (seeds drawn from
    ``generator`` when not given), inside a forked RNG so the global state is left alone.
    """
    check_images(x)
    if x.dtype != torch.uint8:
        raise TypeError(f"RandAugment/TrivialAugment need uint8 images in [0, 255], got {x.dtype}; "
                        "un-normalise first (accel_lib.data._util.to_uint8) or apply before normalising.")
    b = x.shape[0]
    if seeds is None:
        seeds = torch.randint(0, 2**62, (b,), generator=generator).tolist()
    if len(seeds) != b:
        raise ValueError(f"need one seed per image: {len(seeds)} seeds for {b} images.")
    out = torch.empty_like(x)
    with torch.random.fork_rng(devices=[]):
        for i in range(b):
            torch.manual_seed(int(seeds[i]))
            out[i] = transform(x[i])
    return out


@dataclass
class RandAugment(Technique):
    """RandAugment (or TrivialAugment) inside the loop: the normalised batch from the loader is
    turned back into uint8, augmented per image, and normalised again with ``mean``/``std``."""

    policy: str = "randaugment"
    num_ops: int = 2
    magnitude: int = 9
    seed: int = 0
    mean: tuple = field(default=CIFAR10_MEAN)
    std: tuple = field(default=CIFAR10_STD)

    def __post_init__(self) -> None:
        self._t = make_policy(self.policy, self.num_ops, self.magnitude)
        self._g = torch.Generator().manual_seed(self.seed)

    def on_batch(self, batch: Batch, state) -> Batch:
        check_images(batch.x)
        x = batch.x if batch.x.dtype == torch.uint8 else to_uint8(batch.x, self.mean, self.std)
        x = augment_each(x, self._t, self._g)
        return Batch(from_uint8(x, self.mean, self.std), batch.y, batch.weight)

    def state_dict(self) -> dict:
        return {"generator": self._g.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self._g.set_state(state["generator"])
