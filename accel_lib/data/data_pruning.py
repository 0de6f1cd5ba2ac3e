"""Static data pruning: score every training example with a short proxy run (EL2N or forgetting
events), then train on the most informative fraction only.

Speeds up: wall-clock of every later run, by shrinking the dataset once (an epoch of the pruned set
costs ``keep`` of a full epoch); the scoring run is paid once and reused.
Paper: Paul, Ganguli, Dziugaite, "Deep Learning on a Data Diet: Finding Important Examples Early in
Training", NeurIPS 2021 (EL2N); Toneva et al., "An Empirical Study of Example Forgetting during Deep
Neural Network Learning", ICLR 2019 (forgetting); Coleman et al., "Selection via Proxy", ICLR 2020.
Reference: none (closed forms of the scores: tests/data/test_data_pruning.py).
Caveats: the papers score with several seeds and epochs on the full model; a tiny proxy scores
noisily. Keeping only the hardest examples hurts when little data is kept (then keep the easiest,
Sorscher et al. 2022), and mislabelled examples score as "hard". The scoring run must be counted in
the time-to-accuracy unless its scores are reused.
Book: book/data/sampling.ipynb
"""
from __future__ import annotations

from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import nn

from ..core.budget import Budget
from ..core.loaders import ImageLoader, normalize
from ..core.loop import train
from ..core.models import FastCNN
from ._util import check_images, check_labels

__all__ = ["el2n_scores", "forgetting_events", "proxy_scores", "prune_indices", "prune_dataset"]


@torch.no_grad()
def el2n_scores(model: nn.Module, x: torch.Tensor, y: torch.Tensor, num_classes: int = 10,
                batch_size: int = 500) -> torch.Tensor:
    """EL2N: ``|| softmax(f(x)) - one_hot(y) ||_2`` per example, model in eval mode.
    ``x``: uint8 images (normalised here) or floats; returns ``(N,)``."""
    check_images(x)
    check_labels(y, len(x), num_classes)
    was = model.training
    model.eval()
    dev = next(model.parameters()).device
    out = []
    for i in range(0, len(x), batch_size):
        xb = x[i:i + batch_size].to(dev)
        xb = normalize(xb) if xb.dtype == torch.uint8 else xb
        p = F.softmax(model(xb).float(), -1)
        out.append((p - F.one_hot(y[i:i + batch_size].to(dev), num_classes).float()).norm(dim=1).cpu())
    model.train(was)
    return torch.cat(out)


def forgetting_events(correct: torch.Tensor) -> torch.Tensor:
    """Forgetting events per example from a history of correctness ``(T, N)`` (bool, one row per
    evaluation): the number of times an example goes from correct to incorrect. Examples never
    classified correctly get ``+inf`` (the paper ranks them as the most forgettable)."""
    if correct.dim() != 2 or correct.dtype != torch.bool:
        raise ValueError("correct must be a bool tensor (T, N): one row of correctness per evaluation.")
    c = correct.int()
    events = ((c[:-1] == 1) & (c[1:] == 0)).sum(0).float() if len(c) > 1 else torch.zeros(c.shape[1])
    events[~correct.any(0)] = float("inf")
    return events


def proxy_scores(x: torch.Tensor, y: torch.Tensor, epochs: int = 2, batch_size: int = 128,
                 make_model: Callable[[], nn.Module] = lambda: FastCNN((16, 32, 64)),
                 lr: float = 0.1, seed: int = 0, device: Optional[torch.device | str] = None,
                 num_classes: int = 10) -> dict:
    """Train a small proxy for ``epochs`` on uint8 ``x``/``y`` (crop + flip), evaluate it on every
    training example after each epoch, and return ``{"el2n": (N,), "forgetting": (N,),
    "seconds": training+scoring wall time}``. EL2N is taken at the end of the run."""
    import time
    check_images(x)
    check_labels(y, len(x), num_classes)
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}.")
    torch.manual_seed(seed)
    model = make_model()
    loader = ImageLoader(x, y, batch_size, crop_pad=2, flip=True, seed=seed, device=device)
    history = []

    def record(m: nn.Module) -> dict:
        dev = next(m.parameters()).device
        pred = torch.cat([m(normalize(x[i:i + 500].to(dev))).argmax(1).cpu() for i in range(0, len(x), 500)])
        history.append(pred == y.cpu())
        return {"train_accuracy": history[-1].float().mean().item()}

    t0 = time.perf_counter()
    st = train(model, loader, budget=Budget(epochs, "epochs"), device=device, evaluate=record,
               eval_every=len(loader),
               optimizer=lambda p: torch.optim.SGD(p, lr=lr, momentum=0.9, nesterov=True, weight_decay=5e-4),
               lr_schedule=lambda t: 1.0 - 0.9 * t)
    el2n = el2n_scores(st.model, x, y, num_classes)
    return {"el2n": el2n, "forgetting": forgetting_events(torch.stack(history)),
            "seconds": time.perf_counter() - t0, "proxy_accuracy": history[-1].float().mean().item()}


def prune_indices(scores: torch.Tensor, keep: float, which: str = "hardest",
                  generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Indices (ascending) of the ``round(keep * N)`` examples to keep: the highest scores
    (``"hardest"``), the lowest (``"easiest"``) or a uniform random subset (``"random"``, the control)."""
    if scores.dim() != 1:
        raise ValueError("scores must be a vector (N,).")
    if not 0.0 < keep <= 1.0:
        raise ValueError(f"keep must be in (0, 1] (the fraction of the data to train on), got {keep}.")
    k = max(1, int(round(keep * len(scores))))
    if which == "hardest":
        idx = torch.argsort(scores, descending=True, stable=True)[:k]
    elif which == "easiest":
        idx = torch.argsort(scores, stable=True)[:k]
    elif which == "random":
        idx = torch.randperm(len(scores), generator=generator)[:k]
    else:
        raise ValueError(f"which must be 'hardest', 'easiest' or 'random', got {which!r}.")
    return idx.sort().values


def prune_dataset(x: torch.Tensor, y: torch.Tensor, scores: torch.Tensor, keep: float,
                  which: str = "hardest", generator: Optional[torch.Generator] = None):
    """``(x[idx], y[idx], idx)`` for :func:`prune_indices`."""
    if len(scores) != len(x) or len(x) != len(y):
        raise ValueError(f"need one score per example: {len(scores)} scores, {len(x)} images, {len(y)} labels.")
    idx = prune_indices(scores, keep, which, generator)
    return x[idx], y[idx], idx
