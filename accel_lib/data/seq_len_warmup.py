"""Sequence-length warmup: train a language model on short sequences first and lengthen them.

Speeds up: wall-clock and stability, because a step on sequences of length T costs about T/T_full
of a full step (attention even less), and short sequences make early large-batch, high-LR training
stable.
Paper: Li, Zhang, He, "The Stability-Efficiency Dilemma: Investigating Sequence Length Warmup for
Training GPT Models", NeurIPS 2022.
Reference: none (truncation is checked against slicing, and FLOPs against T: tests/data/test_seq_len_warmup.py).
Caveats: at equal steps the model sees fewer tokens, so it must be compared at equal time or equal
tokens; truncating windows keeps only their beginnings (fine for random windows); the paper's
gains come with larger batches and learning rates than the baseline can bear.
Book: book/data/curriculum.ipynb
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..core.technique import Batch, Technique

__all__ = ["seq_len", "truncate_batch", "SeqLenWarmup"]


def seq_len(progress: float, full: int, start: int = 8, warmup: float = 0.3, multiple: int = 8) -> int:
    """Sequence length at ``progress``: linear from ``start`` at 0 to ``full`` at ``warmup`` (then
    ``full``), rounded down to a multiple of ``multiple`` (at least ``start``)."""
    if not 0.0 <= progress <= 1.0:
        raise ValueError(f"progress must be in [0, 1], got {progress}.")
    if not 1 <= start <= full:
        raise ValueError(f"need 1 <= start <= full, got start={start}, full={full}.")
    if not 0.0 < warmup <= 1.0:
        raise ValueError(f"warmup must be in (0, 1] (the fraction of training spent warming up), got {warmup}.")
    if multiple < 1:
        raise ValueError("multiple must be >= 1.")
    t = start + (full - start) * min(1.0, progress / warmup)
    return int(min(full, max(start, int(t) // multiple * multiple)))


def truncate_batch(x: torch.Tensor, y: torch.Tensor, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Keep the first ``length`` positions of token ids ``x`` (B, T) and targets ``y`` (B, T)."""
    if x.dim() != 2 or y.shape != x.shape:
        raise ValueError(f"x and y must be token ids of the same shape (B, T), got {tuple(x.shape)} and {tuple(y.shape)}.")
    if not 1 <= length:
        raise ValueError(f"length must be >= 1, got {length}.")
    return x[:, :length], y[:, :length]


@dataclass
class SeqLenWarmup(Technique):
    """Truncate each batch to :func:`seq_len` of the current progress."""

    start: int = 8
    warmup: float = 0.3
    multiple: int = 8

    def __post_init__(self) -> None:
        seq_len(0.0, max(self.start, 1), self.start, self.warmup, self.multiple)

    def on_batch(self, batch: Batch, state) -> Batch:
        if batch.x.dim() != 2:
            raise ValueError("SeqLenWarmup needs token batches (B, T); it cannot shorten images.")
        full = batch.x.shape[1]
        t = seq_len(state.progress, full, min(self.start, full), self.warmup, self.multiple)
        state.extras["seq_len"] = t
        state.extras["tokens"] = state.extras.get("tokens", 0) + batch.size * t
        x, y = truncate_batch(batch.x, batch.y, t)
        return Batch(x, y, batch.weight)
