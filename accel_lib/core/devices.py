"""Device choice and seeding: CUDA if present, else Apple MPS where it works, else CPU."""
from __future__ import annotations

import os
import random

import torch

__all__ = ["default_device", "synchronize", "seed_everything", "set_threads"]


def default_device(allow_mps: bool = True) -> torch.device:
    """The best available device. ``ACCEL_DEVICE`` (e.g. ``cpu``) overrides the choice."""
    forced = os.environ.get("ACCEL_DEVICE")
    if forced:
        return torch.device(forced)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if allow_mps and mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def synchronize(device: torch.device | str | None = None) -> None:
    """Wait for queued kernels so that a clock reading includes them (no-op on CPU)."""
    device = torch.device(device) if device is not None else default_device()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def seed_everything(seed: int, deterministic: bool = False) -> torch.Generator:
    """Seed Python, NumPy (if installed) and torch (all devices); return a CPU generator seeded
    with ``seed`` for code that takes ``generator=``."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}.")
    random.seed(seed)
    try:
        import numpy as np
        np.random.seed(seed % 2**32)
    except ImportError:  # pragma: no cover
        pass
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    return torch.Generator().manual_seed(seed)


def set_threads(n: int | None = None) -> int:
    """Set torch's intra-op threads (default: the number of CPU cores available) and return it."""
    if n is None:
        n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    torch.set_num_threads(int(n))
    return int(n)
