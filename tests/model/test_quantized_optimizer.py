import pytest
import torch

from accel_lib.model.quantized_optimizer import (Adam8bit, dequantize_blockwise, optimizer_state_bytes,
                                                 quantize_blockwise)


def _problem(seed=0):
    g = torch.Generator().manual_seed(seed)
    x, w_true = torch.randn(256, 64, generator=g), torch.randn(64, 32, generator=g)
    return x, x @ w_true


def _run(opt_fn, steps=40):
    x, y = _problem()
    torch.manual_seed(0)
    model = torch.nn.Linear(64, 32)
    opt = opt_fn(model.parameters())
    for _ in range(steps):
        loss = (model(x) - y).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model, opt, loss.item()


def test_matches_adam_when_unquantized():
    m1, _, _ = _run(lambda p: Adam8bit(p, lr=1e-2, weight_decay=0.1, decoupled=False, min_size=10 ** 9))
    m2, _, _ = _run(lambda p: torch.optim.Adam(p, lr=1e-2, weight_decay=0.1, foreach=False))
    for a, b in zip(m1.parameters(), m2.parameters()):
        assert torch.allclose(a, b, atol=1e-6)
    m3, _, _ = _run(lambda p: Adam8bit(p, lr=1e-2, weight_decay=0.1, min_size=10 ** 9))
    m4, _, _ = _run(lambda p: torch.optim.AdamW(p, lr=1e-2, weight_decay=0.1, foreach=False))
    for a, b in zip(m3.parameters(), m4.parameters()):
        assert torch.allclose(a, b, atol=1e-6)


def test_roundtrip_relative_error_is_small():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(5000, generator=g) * torch.logspace(-4, 0, 5000)
    codes, absmax = quantize_blockwise(x, 256)
    back = dequantize_blockwise(codes, absmax, x.shape, 256)
    assert codes.dtype == torch.uint8 and absmax.numel() == 20
    rel = ((back - x).abs() / x.abs().clamp_min(1e-12))
    assert rel.median() < 0.1                       # log-spaced code: relative precision at every scale
    v = x.square()
    c2, a2 = quantize_blockwise(v, 256, signed=False)
    assert (dequantize_blockwise(c2, a2, v.shape, 256, signed=False) > 0).float().mean() > 0.99


def test_state_is_four_times_smaller_and_training_tracks_adam():
    _, opt8, loss8 = _run(lambda p: Adam8bit(p, lr=1e-2, min_size=1024))
    _, opt32, loss32 = _run(lambda p: torch.optim.Adam(p, lr=1e-2))
    b8, b32 = optimizer_state_bytes(opt8), optimizer_state_bytes(opt32)
    # weight (2048 values): 2 x (2048 codes + 8 fp32 scales); bias (32, below min_size) fp32
    assert b8 == 2 * (2048 + 8 * 4) + 2 * 32 * 4
    assert b8 / b32 < 0.3
    assert loss8 < 1.5 * loss32 + 1e-3


def test_bad_arguments():
    with pytest.raises(ValueError, match="non-negative"):
        quantize_blockwise(torch.tensor([-1.0, 2.0]), signed=False)
    with pytest.raises(ValueError, match="lr"):
        Adam8bit([torch.zeros(1, requires_grad=True)], lr=0)
