"""Shared fixtures. Real datasets come from ACCEL_DATA_DIR (CI: ../shared/data); tests that need
them skip with a reason when it is unset, and never fall back to random data."""
from __future__ import annotations

import os

import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def cifar10():
    if not os.environ.get("ACCEL_DATA_DIR"):
        pytest.skip("set ACCEL_DATA_DIR to the folder holding cifar10-jpeg.tar.gz")
    from accel_lib.core import load_cifar10
    return load_cifar10()


@pytest.fixture(scope="session")
def shakespeare():
    if not os.environ.get("ACCEL_DATA_DIR"):
        pytest.skip("set ACCEL_DATA_DIR to the folder holding tinyshakespeare.txt")
    from accel_lib.core import load_tinyshakespeare
    return load_tinyshakespeare()


def tiny_images(n: int = 32, size: int = 16, classes: int = 10, seed: int = 0):
    """Random uint8 images and labels for unit tests of mechanics (never for claims about accuracy)."""
    g = torch.Generator().manual_seed(seed)
    return (torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=g),
            torch.randint(0, classes, (n,), generator=g))
