"""Compute-optimal sizing: for a fixed FLOP budget, which model size trained on how many tokens
gives the lowest loss? (A small Chinchilla-style experiment on the character LM.)

Speeds up: loss per FLOP. Training FLOPs are about ``6 N D`` for ``N`` parameters and ``D`` tokens,
so a fixed budget trades model size against data: too big a model sees too few tokens, too small
a model saturates. The best size at a budget is found by training a few sizes to the same FLOPs.
Paper: Hoffmann et al., "Training Compute-Optimal Large Language Models" (Chinchilla), NeurIPS 2022;
Kaplan et al., "Scaling Laws for Neural Language Models", 2020.
Reference: ``torch.utils.flop_counter.FlopCounterMode`` counts the FLOPs
(tests/budget/test_compute_optimal.py::test_flops_per_token_matches_counter checks the closed form
against it).
Caveats: at this scale (10^4 to 10^6 parameters, seconds of CPU) the optimum is noisy and its
tokens-per-parameter ratio need not match the ratio fitted on large models; the attention term, the
embeddings and a fixed LR for all sizes all shift it. FLOPs are not seconds: small models
use a CPU less efficiently, so the optimum in wall-clock is smaller than the optimum in FLOPs.
Book: book/budget/compute_optimal.ipynb
"""
from __future__ import annotations

import math
from typing import Optional, Sequence

import torch

from accel_lib.core import (GPT, Budget, CharData, CharLoader, GPTConfig, count_params, count_train_flops,
                            evaluate_char_lm, seed_everything, train)

from .schedules import budget_schedule

__all__ = ["non_embedding_params", "flops_per_token", "measured_flops_per_token", "tokens_for_budget",
           "train_char_lm_for_flops", "compute_optimal_sweep", "fit_optimum"]


def non_embedding_params(cfg: GPTConfig) -> int:
    """Parameters of the matrix multiplies inside the blocks: ``12 * n_layer * n_embd**2`` (QKV,
    projection and a 4x MLP), as in Kaplan et al.; biases and layer norms are left out."""
    return 12 * cfg.n_layer * cfg.n_embd ** 2


def flops_per_token(cfg: GPTConfig, seq_len: Optional[int] = None, attention: bool = True) -> float:
    """Training FLOPs (forward + backward) per token of :class:`~accel_lib.core.GPT`:

    ``6 * (12 L d^2 + V d)`` for the block and head matrix multiplies (forward 2 per weight,
    backward 4) plus ``12 L T d`` for attention scores and weighted values (``QK^T`` and ``AV``,
    ``2 T d`` each forward, counted over the full ``T x T`` square although causal attention could skip half of it).

    ``attention=False`` leaves the attention term out: that is what ``FlopCounterMode`` reports on
    a CPU, where ``F.scaled_dot_product_attention`` runs a fused kernel it does not count."""
    t = cfg.block_size if seq_len is None else seq_len
    dense = 6.0 * (non_embedding_params(cfg) + cfg.vocab_size * cfg.n_embd)
    return dense + (12.0 * cfg.n_layer * t * cfg.n_embd if attention else 0.0)


def measured_flops_per_token(cfg: GPTConfig, seq_len: Optional[int] = None, batch: int = 2) -> float:
    """Training FLOPs per token counted by ``FlopCounterMode`` on a random batch (on a CPU it
    misses the fused attention kernel; see :func:`flops_per_token`)."""
    t = cfg.block_size if seq_len is None else seq_len
    model = GPT(cfg)
    x = torch.randint(0, cfg.vocab_size, (batch, t))
    return count_train_flops(model, x, x) / (batch * t)


def tokens_for_budget(flop_budget: float, cfg: GPTConfig, seq_len: Optional[int] = None) -> float:
    """Tokens a model of config ``cfg`` can train on within ``flop_budget``."""
    if not flop_budget > 0:
        raise ValueError(f"flop_budget must be positive, got {flop_budget!r}.")
    return flop_budget / flops_per_token(cfg, seq_len)


def train_char_lm_for_flops(data: CharData, cfg: GPTConfig, flop_budget: float, *, batch_size: int = 16,
                            lr: float = 3e-3, warmup: float = 0.05, schedule: str = "linear", seed: int = 0,
                            eval_batches: int = 20, device: Optional[str] = None) -> dict:
    """Train one GPT of config ``cfg`` until ``flop_budget`` training FLOPs are spent (AdamW,
    budget-aware schedule) and return its validation loss with what it spent."""
    seed_everything(seed)
    model = GPT(cfg)
    budget = Budget(flop_budget, "flops")
    fpt = flops_per_token(cfg)
    steps = budget.total_steps(batch_size, flops_per_sample=fpt * cfg.block_size)
    loader = CharLoader(data.train, cfg.block_size, batch_size, seed=seed, device=device)
    state = train(model, loader, budget=budget, flops_per_sample=fpt * cfg.block_size,
                  optimizer=lambda p: torch.optim.AdamW(p, lr=lr, betas=(0.9, 0.95), weight_decay=0.1),
                  lr_schedule=budget_schedule(schedule, None, warmup if steps > 1 else 0.0),
                  evaluate=lambda m: evaluate_char_lm(m, data.val, cfg.block_size, batches=eval_batches),
                  device=device, log_every=0)
    c = state.counters
    n = non_embedding_params(cfg)
    tokens = c.samples * cfg.block_size
    return {"n_layer": cfg.n_layer, "n_embd": cfg.n_embd, "params": count_params(model),
            "non_embedding_params": n, "flops_per_token": fpt, "flop_budget": flop_budget, "flops": c.flops,
            "steps": c.step, "tokens": tokens, "tokens_per_param": tokens / n,
            "train_seconds": round(c.seconds, 3), "val_loss": state.evals[-1]["val_loss"]}


def compute_optimal_sweep(data: CharData, flop_budget: float, sizes: Sequence[tuple], *, block_size: int = 64,
                          **kw) -> list:
    """Train every ``(n_layer, n_embd)`` in ``sizes`` (heads of 16 dimensions) to the same FLOPs."""
    out = []
    for n_layer, n_embd in sizes:
        cfg = GPTConfig(vocab_size=data.vocab_size, block_size=block_size, n_layer=n_layer,
                        n_head=max(1, n_embd // 16), n_embd=n_embd)
        out.append(train_char_lm_for_flops(data, cfg, flop_budget, **kw))
    return out


def fit_optimum(records: Sequence[dict], x: str = "non_embedding_params", y: str = "val_loss") -> dict:
    """Fit ``y = a (log10 x)^2 + b log10 x + c`` (Chinchilla's "IsoFLOP" parabola) by least squares
    and return its minimum: ``{"x": size at the minimum, "y": predicted loss, "coef": (a, b, c),
    "interior": whether the minimum lies inside the measured range}``. With a non-convex fit
    (``a <= 0``) the best measured point is returned instead."""
    if len(records) < 3:
        raise ValueError("fitting a parabola needs at least three sizes.")
    lx = torch.tensor([math.log10(r[x]) for r in records], dtype=torch.float64)
    ly = torch.tensor([r[y] for r in records], dtype=torch.float64)
    a_mat = torch.stack([lx ** 2, lx, torch.ones_like(lx)], 1)
    coef = torch.linalg.lstsq(a_mat, ly[:, None]).solution.flatten().tolist()
    a, b, c = coef
    if a <= 0:
        best = min(records, key=lambda r: r[y])
        return {"x": best[x], "y": best[y], "coef": tuple(coef), "interior": False}
    lmin = -b / (2 * a)
    return {"x": 10 ** lmin, "y": c - b * b / (4 * a), "coef": tuple(coef),
            "interior": bool(lx.min().item() <= lmin <= lx.max().item())}
