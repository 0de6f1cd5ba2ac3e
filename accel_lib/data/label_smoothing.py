"""Label smoothing: train towards ``(1 - eps) * one_hot + eps / K`` instead of the one-hot label.

Speeds up: time-to-accuracy a little and calibration, by stopping the logits from growing without
bound to fit hard targets; it costs nothing per step.
Paper: Szegedy, Vanhoucke, Ioffe, Shlens, Wojna, "Rethinking the Inception Architecture", CVPR 2016;
analysed by Mueller, Kornblith, Hinton, "When Does Label Smoothing Help?", NeurIPS 2019.
Reference: F.cross_entropy(label_smoothing=eps) (tests/data/test_label_smoothing.py::test_matches_cross_entropy).
Caveats: it erases information in the logits that distillation teachers need; with MixUp/CutMix
labels (already soft) smoothing is applied on top.
Book: book/data/regularization.ipynb
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..core.technique import Batch, Technique
from ._util import soft_labels

__all__ = ["smooth_labels", "LabelSmoothing"]


def smooth_labels(y: torch.Tensor, num_classes: int, eps: float) -> torch.Tensor:
    """``(1 - eps) * t + eps / K`` where ``t`` is ``y`` as probabilities ``(B, K)``."""
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"eps must be in [0, 1] (0.1 is usual), got {eps}.")
    if num_classes < 2:
        raise ValueError(f"num_classes must be >= 2, got {num_classes}.")
    t = soft_labels(y, num_classes)
    return (1.0 - eps) * t + eps / num_classes


@dataclass
class LabelSmoothing(Technique):
    """Replace the labels of each batch by smoothed probabilities (the default loss accepts them)."""

    eps: float = 0.1
    num_classes: int = 10

    def __post_init__(self) -> None:
        if not 0.0 <= self.eps <= 1.0:
            raise ValueError(f"eps must be in [0, 1], got {self.eps}.")

    def on_batch(self, batch: Batch, state) -> Batch:
        return Batch(batch.x, smooth_labels(batch.y, self.num_classes, self.eps), batch.weight)
