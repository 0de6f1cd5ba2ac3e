"""Checkers for the capstone exercises (``book/capstone/*.ipynb``)."""
from __future__ import annotations

from typing import Callable

import torch

__all__ = ["check_whitening_filters", "check_interaction"]


def check_whitening_filters(fn: Callable[[torch.Tensor], torch.Tensor]) -> bool:
    """``fn(images)`` must return 12 filters (12, 3, 2, 2) whose outputs on the 2x2 patches of
    ``images`` have (nearly) identity covariance. Any whitening passes, not only PCA's."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(32, 3, 10, 10, generator=g)
    x = x + 0.8 * torch.roll(x, 1, dims=1) + torch.nn.functional.avg_pool2d(x, 3, 1, 1)
    w = fn(x.clone())
    assert tuple(w.shape) == (12, 3, 2, 2), f"expected filters of shape (12, 3, 2, 2), got {tuple(w.shape)}."
    z = torch.nn.functional.conv2d(x.double(), w.double()).permute(0, 2, 3, 1).reshape(-1, 12)
    cov = torch.cov(z.T)
    err = (cov - torch.eye(12, dtype=cov.dtype)).abs().max().item()
    assert err < 0.02, (f"the filtered patches have covariance off the identity by {err:.3g}: scale each "
                        "eigenvector by 1/sqrt(its eigenvalue) and use the patch covariance of centred patches.")
    return True


def check_interaction(fn: Callable[[float, float, float, float], float]) -> bool:
    """``fn(full, without_a, without_b, without_ab)`` (accuracies in [0, 1]) must return the
    interaction in accuracy points: the pair's removal effect minus the two single effects."""
    cases = [(0.90, 0.86, 0.89, 0.86, -1.0), (0.9, 0.89, 0.89, 0.80, 8.0), (0.5, 0.5, 0.4, 0.4, 0.0)]
    for full, a, b, ab, want in cases:
        got = fn(full, a, b, ab)
        assert abs(got - want) < 1e-6, (
            f"fn{(full, a, b, ab)} returned {got!r}, expected {want}: effects are full minus the ablated "
            "accuracy, in points (x100), and the interaction is pair - effect_a - effect_b.")
    return True
