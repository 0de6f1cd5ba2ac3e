"""Small models and a fake training state for the data-part tests."""
from __future__ import annotations

from types import SimpleNamespace

import torch
from torch import nn


def tiny_cnn(classes: int = 10) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, classes))


def fake_state(model=None, progress: float = 0.0):
    return SimpleNamespace(model=model, progress=progress, extras={})
