"""Cramming: the best character-level language model you can train in a fixed number of seconds on
one device, and an ablation that says which change bought what.

Speeds up: loss reached within a wall-clock budget. Under a tiny budget the usual defaults (a model
sized for a long run, a constant LR, dropout) waste it; sizing the model to the budget, a
budget-aware schedule that ends at zero, dropping regularisation and a higher LR recover much of it.
Paper: Geiping and Goldstein, "Cramming: Training a Language Model on a Single GPU in One Day",
ICML 2023; Izsak, Berchansky and Levy, "How to Train BERT with an Academic Budget", EMNLP 2021.
Reference: ``torch.nn.utils.clip_grad_norm_`` is what :class:`ClipGradNorm` calls
(tests/budget/test_cramming.py::test_clip_matches_torch).
Caveats: a wall-clock budget makes results depend on the machine and its load: the recipe that wins
on a 2-core CPU (a tiny model) is not the one that wins on a GPU, and repeated runs differ by the
noise of the clock. Compare runs made back to back, and re-tune on your own device.
Book: book/budget/cramming.ipynb
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from typing import Callable, Optional, Sequence

import torch

from accel_lib.core import (GPT, Budget, CharData, CharLoader, GPTConfig, Technique, count_params,
                            evaluate_char_lm, seed_everything, train)

from .schedules import budget_schedule

__all__ = ["CramConfig", "ClipGradNorm", "cram_char_lm", "ABLATION", "cramming_ablation", "apply_changes"]


@dataclass(frozen=True)
class CramConfig:
    """Everything a cramming run may change. The defaults are a conventional small char-LM setup
    (nanoGPT's Shakespeare-char recipe scaled down): they are the baseline of the ablation."""

    n_layer: int = 4
    n_embd: int = 128
    n_head: int = 4
    block_size: int = 128
    batch_size: int = 32
    lr: float = 1e-3
    schedule: str = "constant"
    warmup: float = 0.0          # fraction of the budget
    dropout: float = 0.1
    weight_decay: float = 0.1
    clip: float = 0.0            # max gradient norm; 0 disables clipping

    def gpt_config(self, vocab_size: int) -> GPTConfig:
        return GPTConfig(vocab_size=vocab_size, block_size=self.block_size, n_layer=self.n_layer,
                         n_head=self.n_head, n_embd=self.n_embd, dropout=self.dropout)


@dataclass
class ClipGradNorm(Technique):
    """Clip the global gradient norm to ``max_norm`` after backward (``clip_grad_norm_``)."""

    max_norm: float = 1.0

    def __post_init__(self) -> None:
        if not self.max_norm > 0:
            raise ValueError(f"max_norm must be positive, got {self.max_norm!r}.")

    def after_backward(self, state) -> None:
        torch.nn.utils.clip_grad_norm_(state.model.parameters(), self.max_norm)


def cram_char_lm(data: CharData, seconds: float, cfg: CramConfig = CramConfig(), *, seed: int = 0,
                 clock: Callable[[], float] = time.perf_counter, eval_batches: int = 20,
                 device: Optional[str] = None, return_model: bool = False) -> dict:
    """Train a GPT on ``data`` for ``seconds`` of training time (evaluation excluded) with ``cfg``
    and return the validation loss (nats per character) and what the run spent, including the
    duration of the last step (the run may overshoot the budget by at most that much)."""
    seed_everything(seed)
    model = GPT(cfg.gpt_config(data.vocab_size))
    budget = Budget(seconds, "seconds", clock=clock)
    loader = CharLoader(data.train, cfg.block_size, cfg.batch_size, seed=seed, device=device)
    techniques = [ClipGradNorm(cfg.clip)] if cfg.clip > 0 else []
    state = train(model, loader, budget=budget, techniques=techniques,
                  optimizer=lambda p: torch.optim.AdamW(p, lr=cfg.lr, betas=(0.9, 0.95),
                                                        weight_decay=cfg.weight_decay),
                  lr_schedule=budget_schedule(cfg.schedule, budget, cfg.warmup * seconds),
                  evaluate=lambda m: evaluate_char_lm(m, data.val, cfg.block_size, batches=eval_batches),
                  device=device, log_every=1)
    c = state.counters
    h = state.history
    last = h[-1]["seconds"] - (h[-2]["seconds"] if len(h) > 1 else 0.0)
    out = {**asdict(cfg), "params": count_params(model), "budget_seconds": seconds, "steps": c.step,
           "tokens": c.samples * cfg.block_size, "train_seconds": c.seconds, "last_step_seconds": last,
           "val_loss": state.evals[-1]["val_loss"]}
    if return_model:
        out["model"] = state.model
    return out


def apply_changes(cfg: CramConfig, changes: dict) -> CramConfig:
    """``cfg`` with ``changes`` applied; unknown keys raise with the list of valid ones."""
    valid = set(asdict(cfg))
    bad = set(changes) - valid
    if bad:
        raise ValueError(f"unknown CramConfig fields {sorted(bad)}; valid fields: {sorted(valid)}.")
    return replace(cfg, **changes)


# The changes tried, in order; each is applied on top of the previous ones.
# The order puts the changes that buy steps first, so that the later ones are measured in runs
# long enough for a schedule or a regulariser to matter.
ABLATION: list = [
    ("baseline (4x128 GPT, context 128, constant LR 1e-3, dropout 0.1)", {}),
    ("+ model sized for the budget (2x64)", {"n_layer": 2, "n_embd": 64}),
    ("+ context 64, batch 16", {"block_size": 64, "batch_size": 16}),
    ("+ linear-to-zero schedule, 5% warmup", {"schedule": "linear", "warmup": 0.05}),
    ("+ no dropout", {"dropout": 0.0}),
    ("+ LR 3e-3 and gradient clipping at 1", {"lr": 3e-3, "clip": 1.0}),
]


def cramming_ablation(data: CharData, seconds: float, steps: Sequence[tuple] = tuple(ABLATION),
                      base: CramConfig = CramConfig(), **kw) -> list:
    """Run the cumulative ablation: each entry of ``steps`` is ``(label, changes)`` applied on top of
    the previous ones; every run gets the same ``seconds``. Returns one record per step."""
    out, cfg = [], base
    for label, changes in steps:
        cfg = apply_changes(cfg, changes)
        r = cram_char_lm(data, seconds, cfg, **kw)
        r["label"] = label
        out.append(r)
    return out
