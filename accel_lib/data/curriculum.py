"""Easy-to-hard curriculum: order examples by difficulty (from a proxy model) and let a pacing
function grow the pool the batches are drawn from, from the easiest examples to all of them.

Speeds up: time-to-accuracy, sometimes: early steps on easy, consistent examples can make faster
progress; the pacing function also shrinks the effective dataset early.
Paper: Bengio, Louradour, Collobert, Weston, "Curriculum Learning", ICML 2009; Hacohen & Weinshall,
"On the Power of Curriculum Learning in Training Deep Networks", ICML 2019 (pacing functions); Wu,
Dyer, Neyshabur, "When Do Curricula Work?", ICLR 2021 (the honest comparison with random order).
Reference: none (pacing functions in closed form: tests/data/test_curriculum.py).
Caveats: Wu et al. found that on standard benchmarks curricula rarely beat random order with the
same pacing; they help mainly with a short budget or noisy labels. Scores from a weak proxy can
make the easy pool hold only a few classes (``balance_classes=True`` ranks within classes). Always compare against the
same pacing on a random order (``order="random"``), not only against standard training.
Book: book/data/curriculum.ipynb
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator, Optional

import torch

from ..core.technique import Batch, Technique
from ._indexed import IndexedImageLoader

__all__ = ["PACINGS", "pacing", "difficulty_order", "Curriculum", "CurriculumLoader"]

PACINGS = ("linear", "root", "quadratic", "exponential", "step", "constant")


def pacing(progress: float, kind: str = "linear", start: float = 0.2, saturate: float = 0.8,
           steps: int = 4) -> float:
    """Fraction of the (difficulty-sorted) data available at ``progress`` in [0, 1].

    Every kind starts at ``start`` and reaches 1 at ``saturate``: ``linear``; ``root`` (fast then
    slow); ``quadratic`` (slow then fast); ``exponential`` (doubling-like growth); ``step``
    (``steps`` equal jumps); ``constant`` is 1 everywhere (no curriculum).
    """
    if kind not in PACINGS:
        raise ValueError(f"unknown pacing {kind!r}; choose one of {', '.join(PACINGS)}.")
    if not 0.0 <= progress <= 1.0:
        raise ValueError(f"progress must be in [0, 1], got {progress}.")
    if not 0.0 < start <= 1.0:
        raise ValueError(f"start must be in (0, 1] (the initial fraction of data), got {start}.")
    if not 0.0 < saturate <= 1.0:
        raise ValueError(f"saturate must be in (0, 1] (when all data is used), got {saturate}.")
    if kind == "constant":
        return 1.0
    t = min(1.0, progress / saturate)
    if kind == "linear":
        f = t
    elif kind == "root":
        f = math.sqrt(t)
    elif kind == "quadratic":
        f = t * t
    elif kind == "exponential":
        f = (math.exp(3.0 * t) - 1.0) / (math.exp(3.0) - 1.0)
    else:  # step
        if steps < 1:
            raise ValueError("steps must be >= 1.")
        f = min(1.0, math.floor(t * steps) / steps) if t < 1.0 else 1.0
    return start + (1.0 - start) * f


def difficulty_order(scores: torch.Tensor, order: str = "easy_first",
                     generator: Optional[torch.Generator] = None,
                     labels: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Indices sorted by ``scores`` (higher = harder): ``easy_first`` (curriculum), ``hard_first``
    (anti-curriculum) or ``random`` (the control: same pacing, no ordering).

    With ``labels`` the order is class-balanced: examples are ranked *within their class* and sorted
    by their relative rank (rank / class size), so every prefix of the order holds the classes in
    their dataset proportions. Without it, a weak proxy that has learned only a few classes makes
    the easiest examples all come from those classes.
    """
    if scores.dim() != 1:
        raise ValueError("scores must be a vector (N,).")
    if order not in ("easy_first", "hard_first", "random"):
        raise ValueError(f"order must be 'easy_first', 'hard_first' or 'random', got {order!r}.")
    if order == "random":
        return torch.randperm(len(scores), generator=generator)
    key = scores.double() if order == "easy_first" else -scores.double()
    if labels is None:
        return torch.argsort(key, stable=True)
    if labels.shape != scores.shape:
        raise ValueError(f"need one label per score: {tuple(labels.shape)} labels, {tuple(scores.shape)} scores.")
    rel = torch.empty_like(key)
    for c in labels.unique():
        idx = (labels == c).nonzero().flatten()
        ranks = torch.argsort(torch.argsort(key[idx], stable=True), stable=True).double()
        rel[idx] = (ranks + 0.5) / len(idx)
    return torch.argsort(rel, stable=True)


class CurriculumLoader(IndexedImageLoader):
    """Each batch is drawn uniformly (without replacement within the batch) from the first
    ``pacing(progress) * N`` examples of the difficulty order. Progress is pushed in by the
    :class:`Curriculum` technique."""

    def __init__(self, owner: "Curriculum", ordered: torch.Tensor, *args, **kw) -> None:
        super().__init__(*args, **kw)
        self.owner, self.ordered, self.progress = owner, ordered, 0.0

    def pool_size(self) -> int:
        o = self.owner
        n = len(self.ordered)
        return max(self.batch_size, int(round(pacing(self.progress, o.pacing, o.start, o.saturate) * n)))

    def iter_epoch(self, epoch: int, start: int = 0) -> Iterator[Batch]:
        for i in range(start, len(self)):
            g = self.generator(epoch, i)
            m = self.pool_size()
            pick = torch.randperm(m, generator=g)[:self.batch_size]
            yield self.make_batch(self.ordered[pick], None, epoch, i)


@dataclass
class Curriculum(Technique):
    """A data curriculum; build its loader with :meth:`loader` from per-example difficulty scores.
    ``balance_classes`` ranks examples within their class (see :func:`difficulty_order`)."""

    pacing: str = "linear"
    start: float = 0.2
    saturate: float = 0.8
    order: str = "easy_first"
    balance_classes: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        pacing(0.0, self.pacing, self.start, self.saturate)
        difficulty_order(torch.zeros(1), self.order)
        self._loader: Optional[CurriculumLoader] = None

    def loader(self, x: torch.Tensor, y: torch.Tensor, scores: torch.Tensor, batch_size: int, **kw) -> CurriculumLoader:
        """A loader over uint8 ``x``/``y`` ordered by ``scores`` (higher = harder)."""
        if len(scores) != len(x):
            raise ValueError(f"need one difficulty score per example: {len(scores)} scores, {len(x)} images.")
        ordered = difficulty_order(scores.cpu(), self.order, torch.Generator().manual_seed(self.seed),
                                   y.cpu() if self.balance_classes else None)
        self._loader = CurriculumLoader(self, ordered, x, y, batch_size, **kw)
        return self._loader

    def on_start(self, state) -> None:
        if self._loader is None or state.loader is not self._loader:
            raise ValueError("Curriculum chooses the examples: train with the loader it builds, "
                             "loader = curriculum.loader(x, y, scores, batch_size).")

    def on_batch(self, batch: Batch, state) -> Batch:
        self._loader.pending.clear()
        self._loader.progress = state.progress  # the next batch is drawn from the pool at this progress
        state.extras["curriculum_pool"] = self._loader.pool_size()
        return batch
