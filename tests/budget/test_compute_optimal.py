"""Compute-optimal sizing: the FLOP formula against FlopCounterMode, tokens for a budget, a
FLOP-budgeted run that stops within one step, and the IsoFLOP parabola fit."""
from __future__ import annotations

import math

import pytest
import torch

from accel_lib.budget.compute_optimal import (compute_optimal_sweep, fit_optimum, flops_per_token,
                                              measured_flops_per_token, non_embedding_params, tokens_for_budget)
from accel_lib.core import GPTConfig, count_flops


@pytest.mark.parametrize("cfg", [GPTConfig(block_size=16, n_layer=1, n_head=2, n_embd=32),
                                 GPTConfig(vocab_size=50, block_size=32, n_layer=3, n_head=4, n_embd=48)])
def test_flops_per_token_matches_counter(cfg):
    """The dense part is exact; FlopCounterMode does not count the fused CPU attention kernel."""
    assert measured_flops_per_token(cfg) == flops_per_token(cfg, attention=False)
    assert non_embedding_params(cfg) == 12 * cfg.n_layer * cfg.n_embd ** 2


def test_attention_term_matches_counter_on_explicit_attention():
    """12 L T d per token: QK^T and AV written as matmuls, forward and backward, counted."""
    b, h, t, d = 1, 2, 16, 8
    q, k, v = (torch.randn(b, h, t, d, requires_grad=True) for _ in range(3))

    def att():
        a = (q @ k.transpose(-1, -2)).softmax(-1)
        (a @ v).sum().backward()
    per_token_per_layer = count_flops(att) / t
    cfg = GPTConfig(block_size=t, n_layer=1, n_head=h, n_embd=h * d)
    assert flops_per_token(cfg) - flops_per_token(cfg, attention=False) == per_token_per_layer


def test_tokens_for_budget():
    cfg = GPTConfig(block_size=64, n_layer=2, n_head=2, n_embd=64)
    assert tokens_for_budget(1e12, cfg) * flops_per_token(cfg) == pytest.approx(1e12)
    with pytest.raises(ValueError, match="positive"):
        tokens_for_budget(0, cfg)


def test_flop_budgeted_runs_spend_the_same_flops(shakespeare):
    budget = 2e8
    recs = compute_optimal_sweep(shakespeare, budget, [(1, 16), (1, 32)], block_size=16, batch_size=8,
                                 eval_batches=2)
    for r in recs:
        per_step = r["flops_per_token"] * 16 * 8
        assert budget <= r["flops"] < budget + per_step        # stops within one step
        assert r["tokens"] == r["steps"] * 8 * 16
        assert math.isfinite(r["val_loss"])
    assert recs[0]["steps"] > recs[1]["steps"]                 # the smaller model sees more tokens


def test_fit_optimum():
    recs = [{"non_embedding_params": 10 ** e, "val_loss": 0.5 * (e - 4.3) ** 2 + 1.2} for e in (3, 3.5, 4, 4.5, 5)]
    fit = fit_optimum(recs)
    assert fit["x"] == pytest.approx(10 ** 4.3, rel=1e-6) and fit["y"] == pytest.approx(1.2)
    assert fit["interior"]
    concave = [{"non_embedding_params": 10 ** e, "val_loss": -(e - 4) ** 2} for e in (3, 4, 5)]
    f2 = fit_optimum(concave)
    assert not f2["interior"] and f2["y"] == -1
    with pytest.raises(ValueError, match="three"):
        fit_optimum(recs[:2])
