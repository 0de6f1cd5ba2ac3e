"""InfoBatch: dynamic data pruning with unbiased gradient rescaling.

Each pass over the data, examples whose last loss is below the mean loss ("well learned") are
dropped at random with probability ``r``; the surviving well-learned examples get loss weight
``1 / (1 - r)`` so that the expected gradient equals the full-data gradient. The last ``anneal``
fraction of passes uses all the data.

Speeds up: wall-clock, by skipping forward and backward passes on a share of the easy examples in
each pass while keeping the expected gradient of a full pass.
Paper: Qin et al., "InfoBatch: Lossless Training Speed Up by Unbiased Dynamic Data Pruning", ICLR 2024
(arXiv 2303.04947).
Reference: none (closed-form expectation of the rescaled loss: tests/data/test_infobatch.py).
Caveats: the saving is bounded by the share of below-mean examples times ``r`` (at most ``r``); the
loss scores come for free from the training forward pass, but they are stale (from the last time
an example was seen) and, with MixUp/CutMix, scored on mixed inputs. It needs its own loader (it
chooses the examples) and it ends the run after ``epochs`` passes.
Book: book/data/sampling.ipynb
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch

from ..core.loop import default_loss
from ..core.technique import Batch, Technique
from ._indexed import IndexedImageLoader

__all__ = ["infobatch_plan", "InfoBatch", "InfoBatchLoader"]


def infobatch_plan(scores: torch.Tensor, seen: torch.Tensor, prune_ratio: float,
                   generator: Optional[torch.Generator] = None) -> tuple[torch.Tensor, torch.Tensor]:
    """One pruned pass: returns ``(indices, weights)``, shuffled.

    Args:
        scores: last loss of each example (N,); seen: bool (N,), false for never-scored examples
            (always kept); prune_ratio: probability ``r`` of dropping a well-learned example.
    """
    if not 0.0 <= prune_ratio < 1.0:
        raise ValueError(f"prune_ratio must be in [0, 1), got {prune_ratio}.")
    if scores.shape != seen.shape or scores.dim() != 1:
        raise ValueError("scores and seen must be vectors of the same length N.")
    n = len(scores)
    well = torch.zeros(n, dtype=torch.bool)
    if seen.any():
        well = seen & (scores < scores[seen].mean())
    drop = well & (torch.rand(n, generator=generator) < prune_ratio)
    keep = (~drop).nonzero().flatten()
    w = torch.where(well[keep], 1.0 / (1.0 - prune_ratio), 1.0)
    order = torch.randperm(len(keep), generator=generator)
    return keep[order], w[order].float()


class InfoBatchLoader(IndexedImageLoader):
    """The loader an :class:`InfoBatch` technique drives (make it with ``InfoBatch.loader``)."""

    def __init__(self, owner: "InfoBatch", *args, **kw) -> None:
        super().__init__(*args, **kw)
        self.owner = owner
        self.last_epoch_batches = -1

    def plan(self, epoch: int):
        o = self.owner
        if epoch >= o.epochs * (1.0 - o.anneal):  # annealing: the last passes see everything
            idx, w = torch.randperm(len(self.x), generator=self.generator(epoch)), None
        else:
            idx, w = infobatch_plan(o.scores, o.seen, o.prune_ratio, self.generator(epoch))
        o.pass_sizes.append(int(len(idx) // self.batch_size * self.batch_size))
        self.last_epoch_batches = len(idx) // self.batch_size
        return idx, w


@dataclass
class InfoBatch(Technique):
    """Dynamic pruning with rescaling over ``epochs`` passes; build its loader with :meth:`loader`.

    Pair it with a budget of at least ``epochs`` epochs (``Budget(epochs, 'epochs')``): it stops
    the run after its last pass, which has then used fewer examples than the budget allows.
    """

    epochs: int = 10
    prune_ratio: float = 0.5
    anneal: float = 0.125
    conflicts = ("SelectiveBackprop", "ImportanceSampling")

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}.")
        if not 0.0 <= self.prune_ratio < 1.0:
            raise ValueError(f"prune_ratio must be in [0, 1), got {self.prune_ratio}.")
        if not 0.0 <= self.anneal <= 1.0:
            raise ValueError(f"anneal must be in [0, 1], got {self.anneal}.")
        self._loader: Optional[InfoBatchLoader] = None
        self.pass_sizes: list = []
        self.scores = torch.empty(0)
        self.seen = torch.empty(0, dtype=torch.bool)

    def loader(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, **kw) -> InfoBatchLoader:
        """An indexed loader over uint8 images ``x`` and labels ``y`` (keywords as ImageLoader's)."""
        self._loader = InfoBatchLoader(self, x, y, batch_size, **kw)
        self.scores = torch.zeros(len(x))
        self.seen = torch.zeros(len(x), dtype=torch.bool)
        self.pass_sizes = []
        return self._loader

    def on_start(self, state) -> None:
        if self._loader is None or state.loader is not self._loader:
            raise ValueError("InfoBatch chooses the examples: train with the loader it builds, "
                             "loader = infobatch.loader(x, y, batch_size), and pass that loader to train().")

    def on_loss(self, loss: torch.Tensor, output, batch: Batch, state) -> torch.Tensor:
        idx = self._loader.pending.popleft()
        if len(idx) != batch.size:
            raise ValueError("InfoBatch got a batch of another size than its loader made; a technique "
                             "before it dropped examples (remove SelectiveBackprop/ImportanceSampling).")
        with torch.no_grad():
            self.scores[idx] = default_loss(output.detach().float(), batch.y).cpu()
        self.seen[idx] = True
        return loss

    def after_step(self, state) -> None:
        c = state.counters
        if len(self.pass_sizes) >= self.epochs and c.samples >= sum(self.pass_sizes):
            state.stop = True

    @property
    def saved_fraction(self) -> float:
        """Share of examples skipped over the passes planned so far, against full passes."""
        if not self.pass_sizes or self._loader is None:
            return 0.0
        full = len(self._loader) * self._loader.batch_size * len(self.pass_sizes)
        return 1.0 - sum(self.pass_sizes) / full

    def state_dict(self) -> dict:
        return {"scores": self.scores, "seen": self.seen, "pass_sizes": list(self.pass_sizes)}

    def load_state_dict(self, state: dict) -> None:
        self.scores, self.seen = state["scores"], state["seen"]
        self.pass_sizes = list(state["pass_sizes"])
