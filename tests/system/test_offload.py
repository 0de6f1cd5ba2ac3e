"""Offloading saved activations and the optimizer update: exact, and the bytes are accounted."""
import copy

import pytest
import torch
from torch import nn

from accel_lib.core import saved_activation_bytes
from accel_lib.system.offload import CPUOffloadOptimizer, offload_activations


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(16, 32), nn.GELU(), nn.Linear(32, 4))


def test_matches_save_on_cpu():
    x = torch.randn(8, 16)
    a, b = _model(), _model()
    stats = {}
    with offload_activations("cpu", stats=stats):
        a(x).pow(2).sum().backward()
    with torch.autograd.graph.save_on_cpu():
        b(x).pow(2).sum().backward()
    assert all(torch.equal(p.grad, q.grad) for p, q in zip(a.parameters(), b.parameters()))
    # everything autograd saved, except the parameters, went through the offload
    assert stats["packed_bytes"] == saved_activation_bytes(lambda: _model()(x).pow(2).sum())["activations"]


def test_pin_memory_needs_cuda():
    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    with pytest.raises(ValueError, match="CUDA"):
        with offload_activations(pin_memory=True):
            pass


def test_cpu_offload_optimizer_equals_plain_optimizer():
    x = torch.randn(8, 16)
    a, b = _model(), _model()
    opt_a = CPUOffloadOptimizer(a.parameters(), lambda p: torch.optim.AdamW(p, lr=1e-2))
    opt_b = torch.optim.AdamW(b.parameters(), lr=1e-2)
    for _ in range(3):
        for m, o in ((a, opt_a), (b, opt_b)):
            m(x).pow(2).mean().backward()
            o.step()
            o.zero_grad()
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    n = sum(p.numel() for p in a.parameters())
    assert opt_a.bytes_down == opt_a.bytes_up == 3 * 4 * n
    sd = copy.deepcopy(opt_a.state_dict())
    c = _model()
    opt_c = CPUOffloadOptimizer(c.parameters(), lambda p: torch.optim.AdamW(p, lr=1e-2))
    opt_c.load_state_dict(sd)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), c.parameters()))
