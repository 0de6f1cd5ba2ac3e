"""Shared checks and helpers of the data-centric techniques (not a technique itself)."""
from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..core.datasets import CIFAR10_MEAN, CIFAR10_STD

__all__ = ["check_images", "check_labels", "soft_labels", "check_lam", "check_perm", "to_uint8",
           "from_uint8", "per_example_losses"]


def check_images(x: torch.Tensor, name: str = "x") -> None:
    """Raise a helpful error unless ``x`` is an image batch ``(B, C, H, W)``."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor image batch (B, C, H, W), got {type(x).__name__}.")
    if x.dim() != 4:
        raise ValueError(f"{name} must be an image batch (B, C, H, W), got shape {tuple(x.shape)}; "
                         "add a batch dimension with x.unsqueeze(0) for a single image.")


def check_labels(y: torch.Tensor, batch: int, num_classes: Optional[int] = None) -> None:
    """Class ids ``(B,)`` in [0, num_classes) or probabilities ``(B, K)``."""
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"labels must be a tensor, got {type(y).__name__}.")
    if y.shape[0] != batch:
        raise ValueError(f"{y.shape[0]} labels for a batch of {batch} examples.")
    if y.dim() == 1:
        if y.dtype.is_floating_point:
            raise TypeError("class-id labels must be integers; pass probabilities as a (B, K) tensor.")
        if num_classes is not None and y.numel() and (int(y.min()) < 0 or int(y.max()) >= num_classes):
            raise ValueError(f"labels must lie in [0, {num_classes}); got values in "
                             f"[{int(y.min())}, {int(y.max())}]. Check num_classes.")
    elif y.dim() == 2:
        if num_classes is not None and y.shape[1] != num_classes:
            raise ValueError(f"soft labels have {y.shape[1]} classes but num_classes={num_classes}.")
    else:
        raise ValueError(f"labels must be class ids (B,) or probabilities (B, K), got shape {tuple(y.shape)}.")


def soft_labels(y: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Class ids ``(B,)`` to one-hot floats ``(B, K)``; probabilities ``(B, K)`` pass through."""
    check_labels(y, y.shape[0] if isinstance(y, torch.Tensor) else 0, num_classes)
    if y.dim() == 2:
        return y.float()
    return F.one_hot(y, num_classes).float()


def check_lam(lam: float) -> float:
    lam = float(lam)
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"lam must be in [0, 1] (the weight of the first image), got {lam}.")
    return lam


def check_perm(perm: torch.Tensor, batch: int) -> torch.Tensor:
    if not isinstance(perm, torch.Tensor) or perm.dim() != 1 or len(perm) != batch:
        raise ValueError(f"perm must be a 1-D tensor of {batch} indices (a pairing of the batch).")
    if perm.dtype.is_floating_point or int(perm.min()) < 0 or int(perm.max()) >= batch:
        raise ValueError(f"perm must hold integer indices in [0, {batch}).")
    return perm


def to_uint8(x: torch.Tensor, mean: Sequence[float] = CIFAR10_MEAN, std: Sequence[float] = CIFAR10_STD) -> torch.Tensor:
    """Undo :func:`accel_lib.core.normalize`: normalised floats back to uint8 images."""
    m = torch.tensor(mean, device=x.device, dtype=torch.float32).view(1, -1, 1, 1)
    s = torch.tensor(std, device=x.device, dtype=torch.float32).view(1, -1, 1, 1)
    return ((x.float() * s + m) * 255.0).round().clamp(0, 255).to(torch.uint8)


def from_uint8(x: torch.Tensor, mean: Sequence[float] = CIFAR10_MEAN, std: Sequence[float] = CIFAR10_STD) -> torch.Tensor:
    from ..core.loaders import normalize
    return normalize(x, mean, std)


@torch.no_grad()
def per_example_losses(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-example cross-entropy of ``model`` on a batch, without gradients and without changing the
    model: BatchNorm running statistics touched by this extra forward pass are restored, so that
    scoring a batch does not count as training on it. Output: ``(B,)`` (sequence losses averaged)."""
    from ..core.loop import default_loss
    saved = {k: v.clone() for k, v in model.state_dict().items() if not v.dtype.is_floating_point or "running" in k}
    out = model(x)
    losses = default_loss(out, y).float()
    if saved:
        sd = model.state_dict()
        for k, v in saved.items():
            sd[k].copy_(v)
    return losses
