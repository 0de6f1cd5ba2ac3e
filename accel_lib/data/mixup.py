"""MixUp: train on convex combinations of pairs of examples and of their labels.

Speeds up: time-to-accuracy on small or over-fitting datasets, by regularising the network towards
linear behaviour between examples (a free, input-side regulariser: one extra tensor op per batch).
Paper: Zhang, Cisse, Dauphin, Lopez-Paz, "mixup: Beyond Empirical Risk Minimization", ICLR 2018.
Reference: torchvision.transforms.v2.MixUp (tests/data/test_mixup.py::test_matches_torchvision).
Caveats: it slows convergence in short runs (the task is harder), so at a few epochs it often
costs accuracy; it pays on long runs and large models. Selective-Backprop or loss-based sampling
must score clean examples, before mixing.
Book: book/data/regularization.ipynb
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch

from ..core.technique import Batch, Technique
from ._util import check_lam, check_perm, soft_labels

__all__ = ["sample_lam", "sample_pairing", "mixup_batch", "MixUp"]


def sample_lam(alpha: float, generator: Optional[torch.Generator] = None) -> float:
    """One draw of the mixing weight ``lam ~ Beta(alpha, alpha)``.

    Drawn as ``G1 / (G1 + G2)`` with ``Gi ~ Gamma(alpha, 1)``, so that a ``generator`` makes it
    reproducible (``torch.distributions.Beta`` takes no generator). For tiny ``alpha`` both
    gammas can underflow to 0; the draw is then 0 or 1 with equal odds, the limit of the Beta.
    """
    if not alpha > 0:
        raise ValueError(f"alpha must be > 0 (alpha=1 draws lam uniformly from [0, 1]), got {alpha}.")
    a = torch.full((2,), float(alpha), dtype=torch.float64)
    g = torch._standard_gamma(a, generator=generator)
    total = float(g[0] + g[1])
    if total == 0.0:
        return float(torch.rand((), generator=generator) < 0.5)
    return float(g[0]) / total


def sample_pairing(batch: int, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """A random pairing: example ``i`` is mixed with example ``perm[i]``."""
    return torch.randperm(batch, generator=generator)


def mixup_batch(x: torch.Tensor, y: torch.Tensor, lam: float, perm: torch.Tensor,
                num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mix every example with its partner.

    Args:
        x: inputs ``(B, ...)`` (floats); y: class ids ``(B,)`` or probabilities ``(B, K)``.
        lam: weight of the example itself, in [0, 1]; perm: partner indices ``(B,)``.
    Returns:
        ``lam * x + (1 - lam) * x[perm]`` and the same mixture of the one-hot labels ``(B, K)``.
    """
    if not isinstance(x, torch.Tensor) or x.dim() < 2:
        raise ValueError("x must be a batch of inputs (B, ...).")
    if not x.dtype.is_floating_point:
        raise TypeError(f"mix floats, not {x.dtype}: normalise uint8 images first (accel_lib.core.normalize).")
    lam = check_lam(lam)
    perm = check_perm(perm.to(x.device), x.shape[0])
    t = soft_labels(y, num_classes)
    return lam * x + (1.0 - lam) * x[perm], lam * t + (1.0 - lam) * t[perm]


@dataclass
class MixUp(Technique):
    """Apply MixUp to every batch with probability ``p`` (labels become probabilities).

    Args:
        alpha: Beta(alpha, alpha) parameter of lam (0.2-1.0 usual); num_classes: K; p: how often.
        seed: seed of the technique's own generator (lam, pairing and the coin flips).
    """

    alpha: float = 1.0
    num_classes: int = 10
    p: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.alpha > 0:
            raise ValueError(f"alpha must be > 0, got {self.alpha}.")
        if not 0.0 <= self.p <= 1.0:
            raise ValueError(f"p is a probability, got {self.p}.")
        self._g = torch.Generator().manual_seed(self.seed)

    def on_batch(self, batch: Batch, state) -> Batch:
        if float(torch.rand((), generator=self._g)) >= self.p:
            return Batch(batch.x, soft_labels(batch.y, self.num_classes), batch.weight)
        lam = sample_lam(self.alpha, self._g)
        perm = sample_pairing(batch.size, self._g)
        x, y = mixup_batch(batch.x, batch.y, lam, perm, self.num_classes)
        return Batch(x, y, batch.weight)

    def state_dict(self) -> dict:
        return {"generator": self._g.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self._g.set_state(state["generator"])
