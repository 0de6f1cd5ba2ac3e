"""The budget sweep: train at 10%, 25%, 50% and 100% of a baseline's epochs with each schedule,
and see which schedule wins at each budget (Li, Yumer and Ramanan, 2020, at small scale).

Speeds up: nothing by itself; it measures how much accuracy a shorter budget costs with each
schedule, i.e. how far you can cut training when the schedule knows the budget.
Paper: Li, Yumer and Ramanan, "Budgeted Training: Rethinking Deep Neural Network Training Under
Resource Constraints", ICLR 2020.
Reference: none (an experiment; the schedules it uses are checked against PyTorch's in
tests/budget/test_schedules.py). tests/budget/test_sweep.py checks its bookkeeping.
Caveats: one seed per cell on a data subset, so differences below about one point of accuracy are
noise; the paper's finding is about full CIFAR/ImageNet runs.
Book: book/budget/schedules.ipynb
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch

from accel_lib.core import (Budget, FastCNN, ImageData, ImageLoader, evaluate_classifier, seed_everything,
                            train)

from .schedules import SCHEDULES, budget_schedule

__all__ = ["downsample", "train_for_budget", "budget_sweep", "sweep_table", "best_by_fraction", "plot_sweep"]


def downsample(data: ImageData, size: int) -> ImageData:
    """``data`` with every image average-pooled to ``size x size`` (still uint8): a cheaper version
    of the same task for CPU sweeps (CIFAR-10 at 16x16 costs about 4x less per image than at 32x32
    and is harder, so accuracies are lower). The source string records the change."""
    h = data.train_x.shape[-1]
    if size < 1 or h % size:
        raise ValueError(f"size must divide the image size {h}, got {size!r}.")
    if size == h:
        return data
    k = h // size

    def pool(x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.avg_pool2d(x.float(), k).round().to(torch.uint8)
    return ImageData(pool(data.train_x), data.train_y, pool(data.test_x), data.test_y, data.classes,
                     data.source + f" (downsampled to {size}x{size})")


def train_for_budget(data: ImageData, budget: Budget, schedule: str, *, widths: Sequence[int] = (16, 32, 64),
                     batch_size: int = 128, lr: float = 0.2, momentum: float = 0.9, weight_decay: float = 5e-4,
                     warmup: float = 0.0, seed: int = 0, device: Optional[str] = None) -> dict:
    """Train a :class:`~accel_lib.core.FastCNN` on ``data`` for ``budget`` with ``schedule`` (a
    name of :data:`SCHEDULES`; ``warmup`` in the budget's unit) and return test accuracy, loss and
    what was spent. SGD with Nesterov momentum; one seed fixes the initialisation and the batches."""
    seed_everything(seed)
    model = FastCNN(widths)
    loader = ImageLoader(data.train_x, data.train_y, batch_size, crop_pad=2, flip=True, seed=seed, device=device)
    state = train(model, loader, budget=budget,
                  optimizer=lambda p: torch.optim.SGD(p, lr=lr, momentum=momentum, nesterov=True,
                                                      weight_decay=weight_decay),
                  lr_schedule=budget_schedule(schedule, budget, warmup), device=device, log_every=0,
                  evaluate=lambda m: evaluate_classifier(m, data.test_x, data.test_y))
    c = state.counters
    ev = state.evals[-1]
    return {"schedule": schedule, "budget": str(budget), "amount": budget.amount, "unit": budget.unit,
            "steps": c.step, "epochs": round(c.epoch, 4), "train_seconds": round(c.seconds, 3),
            "accuracy": ev["accuracy"], "test_loss": ev["loss"]}


def budget_sweep(data: ImageData, base_epochs: float, fractions: Sequence[float] = (0.1, 0.25, 0.5, 1.0),
                 schedules: Sequence[str] = ("step", "cosine", "linear", "rex"), **kw) -> list:
    """Every (fraction, schedule) cell: ``train_for_budget`` with ``fraction * base_epochs`` epochs.
    Returns one record per cell with ``fraction`` added; ``kw`` goes to :func:`train_for_budget`.
    Cells run fraction by fraction, schedules interleaved, so machine noise hits all schedules alike."""
    if not base_epochs > 0:
        raise ValueError(f"base_epochs must be positive, got {base_epochs!r}.")
    for f in fractions:
        if not 0 < f <= 1:
            raise ValueError(f"fractions must be in (0, 1], got {f!r}.")
    for s in schedules:
        if s not in SCHEDULES:
            raise ValueError(f"unknown schedule {s!r}; use one of {', '.join(SCHEDULES)}.")
    out = []
    for f in fractions:
        for s in schedules:
            r = train_for_budget(data, Budget(f * base_epochs, "epochs"), s, **kw)
            r["fraction"] = f
            out.append(r)
    return out


def best_by_fraction(records: Sequence[dict], metric: str = "accuracy") -> dict:
    """``{fraction: schedule with the highest metric}``."""
    best: dict = {}
    for r in records:
        f = r["fraction"]
        if f not in best or r[metric] > best[f][metric]:
            best[f] = r
    return {f: r["schedule"] for f, r in sorted(best.items())}


def sweep_table(records: Sequence[dict], metric: str = "accuracy") -> str:
    """A text table: one row per budget fraction, one column per schedule, best cell starred."""
    fracs = sorted({r["fraction"] for r in records})
    scheds = list(dict.fromkeys(r["schedule"] for r in records))
    cell = {(r["fraction"], r["schedule"]): r[metric] for r in records}
    best = best_by_fraction(records, metric)
    lines = ["budget   " + "".join(f"{s:>10}" for s in scheds)]
    for f in fracs:
        row = f"{f:>6.0%}   "
        for s in scheds:
            v = cell.get((f, s))
            row += f"{'':>10}" if v is None else f"{v:>9.3f}{'*' if best[f] == s else ' '}"
        lines.append(row)
    return "\n".join(lines)


def plot_sweep(records: Sequence[dict], metric: str = "accuracy", ax=None, title: str = ""):
    """Accuracy against budget fraction, one line per schedule."""
    import matplotlib.pyplot as plt
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.2))
    for s in dict.fromkeys(r["schedule"] for r in records):
        pts = sorted((r["fraction"], r[metric]) for r in records if r["schedule"] == s)
        ax.plot([p[0] * 100 for p in pts], [p[1] for p in pts], "o-", label=s)
    ax.set_xscale("log")
    fr = sorted({r["fraction"] for r in records})
    ax.set_xticks([f * 100 for f in fr], [f"{f:.0%}" for f in fr])
    ax.set_xlabel("budget (% of the baseline's epochs)")
    ax.set_ylabel(f"test {metric}")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    return ax
