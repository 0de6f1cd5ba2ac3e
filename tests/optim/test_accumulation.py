import pytest
import torch
from torch import nn

from accel_lib.core import Budget, FastCNN, ImageLoader, train
from accel_lib.optim.accumulation import has_batch_coupling, plan_accumulation
from tests.conftest import tiny_images


def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(),
                         nn.Linear(32, 10))


def test_equals_one_large_batch():
    x, y = tiny_images(256, 12)
    big = train(_net(), ImageLoader(x, y, 64, seed=3), budget=Budget(6, "steps"),
                optimizer=lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9), device="cpu")
    acc = train(_net(), ImageLoader(x, y, 16, seed=3), budget=Budget(6, "steps"), accumulation=4,
                optimizer=lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9), device="cpu")
    assert big.counters.samples == acc.counters.samples == 6 * 64
    diff = max((a - b).abs().max().item() for a, b in zip(big.model.parameters(), acc.model.parameters()))
    assert diff < 1e-5


def test_plan_and_batchnorm_detection():
    assert plan_accumulation(512, 128) == (128, 4)
    assert plan_accumulation(96, 40) == (32, 3)
    assert plan_accumulation(64, 64) == (64, 1)
    assert has_batch_coupling(FastCNN()) and not has_batch_coupling(_net())
    with pytest.raises(ValueError, match="positive"):
        plan_accumulation(0, 4)
