"""Cramming: gradient clipping against torch, deterministic wall-clock runs with an injected clock,
the cumulative ablation, errors."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from accel_lib.budget.cramming import (ABLATION, ClipGradNorm, CramConfig, apply_changes, cram_char_lm,
                                       cramming_ablation)

from ._helpers import FakeClock

TINY = CramConfig(n_layer=1, n_embd=16, n_head=2, block_size=16, batch_size=4)


def test_clip_matches_torch():
    torch.manual_seed(0)
    m1 = nn.Linear(5, 3)
    m2 = nn.Linear(5, 3)
    m2.load_state_dict(m1.state_dict())
    x = torch.randn(7, 5) * 10
    for m in (m1, m2):
        m(x).pow(2).sum().backward()

    class S:
        model = m1
    ClipGradNorm(0.5).after_backward(S)
    torch.nn.utils.clip_grad_norm_(m2.parameters(), 0.5)
    for a, b in zip(m1.parameters(), m2.parameters()):
        assert torch.equal(a.grad, b.grad)
    assert torch.linalg.vector_norm(torch.cat([p.grad.flatten() for p in m1.parameters()])) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="max_norm"):
        ClipGradNorm(0.0)


def test_wall_clock_run_with_injected_clock(shakespeare):
    # the loop reads the clock before and after each step: 0.5 s per reading = 0.5 s per step
    r = cram_char_lm(shakespeare, 2.0, TINY, clock=FakeClock(per_call=0.5), eval_batches=2)
    assert r["steps"] == 4 and r["train_seconds"] == 2.0 and r["last_step_seconds"] == 0.5
    assert r["tokens"] == 4 * 4 * 16
    r2 = cram_char_lm(shakespeare, 2.0, TINY, clock=FakeClock(per_call=0.5), eval_batches=2)
    assert r2["val_loss"] == r["val_loss"]                  # same clock, same seed: same run


def test_ablation_is_cumulative(shakespeare):
    steps = [("base", {}), ("+ linear", {"schedule": "linear", "warmup": 0.1}), ("+ lr", {"lr": 3e-3})]
    recs = cramming_ablation(shakespeare, 1.0, steps, base=TINY, clock=FakeClock(per_call=0.5), eval_batches=2)
    assert [r["label"] for r in recs] == ["base", "+ linear", "+ lr"]
    assert [r["schedule"] for r in recs] == ["constant", "linear", "linear"]
    assert [r["warmup"] for r in recs] == [0.0, 0.1, 0.1]
    assert [r["lr"] for r in recs] == [1e-3, 1e-3, 3e-3]
    assert all(r["steps"] == 2 for r in recs)


def test_default_ablation_is_valid():
    cfg = CramConfig()
    for _, ch in ABLATION:
        cfg = apply_changes(cfg, ch)
        cfg.gpt_config(65)                                  # heads divide the width at every step
    assert cfg.schedule == "linear" and cfg.dropout == 0.0
    with pytest.raises(ValueError, match="unknown CramConfig fields.*valid fields"):
        apply_changes(cfg, {"learning_rate": 1.0})
