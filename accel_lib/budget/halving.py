"""Successive halving: hyperparameter search under a total budget, spending most of it on the
configurations that look best early.

Speeds up: the search itself. Random search spends the same budget on every configuration it
tries; successive halving starts many on a small budget, keeps the best ``1/eta`` and gives them
``eta`` times more, so for the same total budget it looks at many more configurations.
Paper: Jamieson and Talwalkar, "Non-stochastic Best Arm Identification and Hyperparameter
Optimization", AISTATS 2016; Li et al., "Hyperband", JMLR 2018 (brackets of successive halving).
Reference: none in PyTorch (scikit-learn's ``HalvingRandomSearchCV`` is the closest; it is not a
dependency). tests/budget/test_halving.py checks the rung sizes and the total cost in closed form.
Caveats: it assumes that early rankings predict final ones; a configuration that starts slowly
(a small LR, strong regularisation) is discarded early. Each rung here retrains from scratch with a
budget-aware schedule (so every trial ends its schedule at its own budget); resuming would be cheaper
but would compare runs whose schedules were cut off.
Book: book/budget/search.ipynb
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import torch

from accel_lib.core import Budget, ImageData

__all__ = ["holdout", "classifier_objective", "sample_configs", "halving_rungs", "successive_halving", "random_search", "SearchResult",
           "equal_budget_random_search"]


def sample_configs(space: dict, n: int, generator: torch.Generator) -> list:
    """``n`` random configurations from ``space``: ``{name: (low, high, "log"|"linear")}`` draws a
    float, ``{name: [choices]}`` picks one. Randomness comes only from ``generator``."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n!r}.")
    out = []
    for _ in range(n):
        cfg = {}
        for k, spec in space.items():
            u = torch.rand((), generator=generator).item()
            if isinstance(spec, list):
                cfg[k] = spec[min(int(u * len(spec)), len(spec) - 1)]
            elif isinstance(spec, tuple) and len(spec) == 3 and spec[2] in ("log", "linear"):
                lo, hi, kind = spec
                if not lo < hi or (kind == "log" and lo <= 0):
                    raise ValueError(f"bad range for {k!r}: {spec!r}; need low < high (and low > 0 for log).")
                cfg[k] = math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo))) if kind == "log" \
                    else lo + u * (hi - lo)
            else:
                raise ValueError(f"space[{k!r}] must be a list of choices or (low, high, 'log'|'linear'), "
                                 f"got {spec!r}.")
        out.append(cfg)
    return out


def halving_rungs(n: int, min_resource: float, eta: int = 3) -> list:
    """The plan of successive halving: a list of ``(configs alive, resource each)`` per rung, from
    ``n`` configurations at ``min_resource`` down to one survivor (each rung keeps ``n // eta``,
    at least 1, and multiplies the resource by ``eta``)."""
    if int(eta) != eta or eta < 2:
        raise ValueError(f"eta must be an integer >= 2, got {eta!r}.")
    if n < 1 or not min_resource > 0:
        raise ValueError("need n >= 1 configurations and min_resource > 0.")
    rungs, r = [], float(min_resource)
    while True:
        rungs.append((n, r))
        if n == 1:
            return rungs
        n, r = max(1, n // eta), r * eta


@dataclass
class SearchResult:
    """The outcome of a search. ``trials`` lists every evaluation (config index, resource, loss);
    ``cost`` is the total resource spent (what an equal-budget comparison holds fixed)."""

    best_config: dict
    best_loss: float
    best_resource: float
    cost: float
    trials: list = field(default_factory=list)
    configs: list = field(default_factory=list)


def successive_halving(configs: Sequence[dict], objective: Callable[[dict, float], float], min_resource: float,
                       eta: int = 3) -> SearchResult:
    """Run successive halving over ``configs``.

    Args:
        configs: the candidate configurations (e.g. from :func:`sample_configs`).
        objective: ``(config, resource) -> loss`` (lower is better); ``resource`` is the budget of
            that trial, e.g. a number of steps, and each call trains from scratch.
        min_resource: the budget of each configuration in the first rung.
        eta: keep the best ``1/eta`` after each rung and give them ``eta`` times more.

    The winner is the best configuration of the last rung (trained with the largest resource).
    """
    if not configs:
        raise ValueError("configs is empty; sample some with sample_configs().")
    alive = list(range(len(configs)))
    trials, cost = [], 0.0
    for n_alive, r in halving_rungs(len(configs), min_resource, eta):
        alive = alive[:n_alive]
        scores = []
        for i in alive:
            loss = float(objective(configs[i], r))
            if math.isnan(loss):
                loss = math.inf  # a diverged run loses
            trials.append({"config": i, "resource": r, "loss": loss})
            cost += r
            scores.append((loss, i))
        scores.sort()
        alive = [i for _, i in scores]
    best_loss, best = scores[0]
    return SearchResult(dict(configs[best]), best_loss, r, cost, trials, list(configs))


def random_search(configs: Sequence[dict], objective: Callable[[dict, float], float], resource: float) -> SearchResult:
    """Evaluate every configuration with the same ``resource`` and keep the best."""
    if not configs:
        raise ValueError("configs is empty; sample some with sample_configs().")
    if not resource > 0:
        raise ValueError(f"resource must be positive, got {resource!r}.")
    trials = []
    for i, c in enumerate(configs):
        loss = float(objective(c, resource))
        trials.append({"config": i, "resource": resource, "loss": math.inf if math.isnan(loss) else loss})
    best = min(trials, key=lambda t: t["loss"])
    return SearchResult(dict(configs[best["config"]]), best["loss"], resource, resource * len(configs), trials,
                        list(configs))


def equal_budget_random_search(n: int, min_resource: float, eta: int = 3) -> tuple:
    """``(trials, resource each)`` of a random search that costs what successive halving over ``n``
    configurations costs and gives each trial the resource of halving's last rung (at least one
    trial)."""
    rungs = halving_rungs(n, min_resource, eta)
    total = sum(k * r for k, r in rungs)
    top = rungs[-1][1]
    return max(1, int(total // top)), top


def holdout(data: ImageData, n_val: int, seed: int = 0) -> ImageData:
    """Split ``data``'s training images into a training part and a validation part of ``n_val``
    images (returned as the ``test_*`` fields), so that a search never looks at the test set."""
    if not 0 < n_val < len(data.train_y):
        raise ValueError(f"n_val must be between 1 and {len(data.train_y) - 1}, got {n_val!r}.")
    perm = torch.randperm(len(data.train_y), generator=torch.Generator().manual_seed(seed))
    tr, va = perm[n_val:], perm[:n_val]
    return ImageData(data.train_x[tr], data.train_y[tr], data.train_x[va], data.train_y[va], data.classes,
                     data.source + f" (train minus {n_val} held out for validation)")


def classifier_objective(data: ImageData, metric: str = "test_loss", log: Optional[list] = None,
                         **train_kw) -> Callable[[dict, float], float]:
    """An objective for the searches: ``(config, steps) -> metric`` of a FastCNN trained from scratch
    for ``steps`` optimizer steps with a linear-to-zero schedule, evaluated on ``data.test_*`` (pass
    a :func:`holdout` split). ``config`` holds ``lr`` and ``weight_decay`` (and any other keyword of
    :func:`~accel_lib.budget.sweep.train_for_budget`); ``log`` collects every run's record."""
    from .sweep import train_for_budget

    def objective(config: dict, steps: float) -> float:
        r = train_for_budget(data, Budget(int(round(steps)), "steps"), "linear", **{**train_kw, **config})
        if log is not None:
            log.append({**config, **r})
        return r["test_loss"] if metric == "test_loss" else 1.0 - r["accuracy"]
    return objective
