"""Progressive resizing: train on down-scaled images early and grow them to full size.

Speeds up: wall-clock, because a convolutional network's FLOPs scale with the number of pixels
(resolution squared): at half resolution a step costs about a quarter.
Paper: Howard (fast.ai), "Training Imagenet in 18 minutes", 2018; Tan & Le, "EfficientNetV2", ICML
2021; Touvron et al., "Fixing the train-test resolution discrepancy" (FixRes), NeurIPS 2019.
Reference: torchvision.transforms.v2.functional.resize (tests/data/test_progressive_resizing.py::test_matches_torchvision_resize).
Caveats: the network must accept any input size (global pooling); on a CPU, small convolutions are
less efficient, so wall-clock falls less than FLOPs; a train/test resolution gap costs accuracy
unless the last part of training is at full size (``ramp_end < 1``).
Book: book/data/curriculum.ipynb
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..core.technique import Batch, Technique
from ._util import check_images

__all__ = ["image_size", "resize_batch", "ProgressiveResizing"]


def image_size(progress: float, full: int, min_scale: float = 0.5, ramp_end: float = 0.75,
               multiple: int = 4) -> int:
    """Side length at ``progress`` in [0, 1]: grows linearly from ``min_scale * full`` at 0 to
    ``full`` at ``ramp_end`` (constant after), rounded down to a multiple of ``multiple``."""
    if not 0.0 <= progress <= 1.0:
        raise ValueError(f"progress must be in [0, 1], got {progress}.")
    if not 0.0 < min_scale <= 1.0:
        raise ValueError(f"min_scale must be in (0, 1], got {min_scale}.")
    if not 0.0 < ramp_end <= 1.0:
        raise ValueError(f"ramp_end must be in (0, 1], got {ramp_end}.")
    if multiple < 1 or full < multiple:
        raise ValueError(f"need 1 <= multiple <= full, got multiple={multiple}, full={full}.")
    scale = min_scale + (1.0 - min_scale) * min(1.0, progress / ramp_end)
    s = int(scale * full) // multiple * multiple
    return max(multiple, min(full, s))


def resize_batch(x: torch.Tensor, size: int) -> torch.Tensor:
    """Resize float images ``(B, C, H, W)`` to ``size x size`` (bilinear, antialiased)."""
    check_images(x)
    if not x.dtype.is_floating_point:
        raise TypeError(f"resize float images, got {x.dtype}; normalise uint8 images first.")
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}.")
    if x.shape[-1] == size and x.shape[-2] == size:
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)


@dataclass
class ProgressiveResizing(Technique):
    """Resize each training batch to :func:`image_size` of the current progress (evaluation stays
    at full resolution)."""

    min_scale: float = 0.5
    ramp_end: float = 0.75
    multiple: int = 4

    def __post_init__(self) -> None:
        image_size(0.0, 32, self.min_scale, self.ramp_end, self.multiple)  # validates the settings

    def on_batch(self, batch: Batch, state) -> Batch:
        check_images(batch.x)
        full = batch.x.shape[-1]
        s = image_size(state.progress, full, self.min_scale, self.ramp_end, self.multiple)
        state.extras["image_size"] = s
        return Batch(resize_batch(batch.x, s), batch.y, batch.weight)
