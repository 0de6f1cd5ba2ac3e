"""Successive halving and random search: rung sizes and cost in closed form, the winner on a
synthetic objective, the equal-budget comparison, seeded sampling, errors."""
from __future__ import annotations

import math
import statistics

import pytest
import torch

from accel_lib.budget.halving import (equal_budget_random_search, halving_rungs, random_search, sample_configs,
                                      successive_halving)


def test_rungs():
    assert halving_rungs(9, 1, 3) == [(9, 1), (3, 3), (1, 9)]
    assert halving_rungs(27, 2, 3) == [(27, 2), (9, 6), (3, 18), (1, 54)]
    assert halving_rungs(10, 1, 2) == [(10, 1), (5, 2), (2, 4), (1, 8)]
    assert halving_rungs(1, 5, 3) == [(1, 5)]


def _objective(calls):
    # loss = final quality + a term that shrinks with the resource (same for every config)
    def f(cfg, r):
        calls.append((cfg["q"], r))
        return cfg["q"] + 1.0 / r
    return f


def test_finds_the_best_and_costs_what_the_rungs_say():
    configs = [{"q": q} for q in (0.5, 0.2, 0.9, 0.1, 0.7, 0.3, 0.8, 0.6, 0.4)]
    calls = []
    res = successive_halving(configs, _objective(calls), min_resource=1, eta=3)
    assert res.best_config == {"q": 0.1} and res.best_resource == 9
    assert res.best_loss == pytest.approx(0.1 + 1 / 9)
    assert res.cost == sum(k * r for k, r in halving_rungs(9, 1, 3)) == 27
    assert sum(r for _, r in calls) == res.cost
    # the survivors of each rung are the best of the rung before
    assert sorted(q for q, r in calls if r == 3) == [0.1, 0.2, 0.3]


def test_discards_a_late_bloomer():
    """The documented caveat: a config that is worst early but best late is dropped."""
    configs = [{"q": 0.3}, {"q": 0.2}, {"q": 0.0, "late": True}]

    def f(cfg, r):
        return cfg["q"] + (5.0 / r if cfg.get("late") else 0.1 / r)
    res = successive_halving(configs, f, min_resource=1, eta=3)
    assert res.best_config == {"q": 0.2}
    full = random_search(configs, f, resource=100)
    assert full.best_config.get("late")


def test_random_search_and_equal_budget():
    configs = [{"q": q} for q in (0.5, 0.2, 0.9)]
    calls = []
    res = random_search(configs, _objective(calls), resource=9)
    assert res.best_config == {"q": 0.2} and res.cost == 27 and len(calls) == 3
    n, r = equal_budget_random_search(9, 1, 3)
    assert (n, r) == (3, 9) and n * r == successive_halving([{"q": i} for i in range(9)],
                                                            lambda c, r: c["q"], 1, 3).cost


def test_nan_loses():
    res = successive_halving([{"q": math.nan}, {"q": 1.0}, {"q": 2.0}], lambda c, r: c["q"], 1, 3)
    assert res.best_config == {"q": 1.0}
    res = random_search([{"q": math.nan}, {"q": 1.0}], lambda c, r: c["q"], 1)
    assert res.best_config == {"q": 1.0}


def test_sampling_is_seeded_and_log_uniform():
    space = {"lr": (1e-4, 1e-0, "log"), "wd": (0.0, 0.1, "linear"), "bs": [32, 64, 128]}
    a = sample_configs(space, 400, torch.Generator().manual_seed(1))
    b = sample_configs(space, 400, torch.Generator().manual_seed(1))
    assert a == b
    lrs = [c["lr"] for c in a]
    assert min(lrs) >= 1e-4 and max(lrs) <= 1.0
    assert abs(statistics.median(math.log10(x) for x in lrs) + 2.0) < 0.25   # middle of [-4, 0]
    assert {c["bs"] for c in a} == {32, 64, 128}
    assert all(0 <= c["wd"] <= 0.1 for c in a)


def test_errors():
    with pytest.raises(ValueError, match="eta"):
        halving_rungs(9, 1, 1)
    with pytest.raises(ValueError, match="min_resource"):
        halving_rungs(9, 0, 3)
    with pytest.raises(ValueError, match="sample_configs"):
        successive_halving([], lambda c, r: 0.0, 1)
    with pytest.raises(ValueError, match="low > 0 for log"):
        sample_configs({"lr": (0.0, 1.0, "log")}, 2, torch.Generator())
    with pytest.raises(ValueError, match="list of choices"):
        sample_configs({"lr": 0.1}, 2, torch.Generator())
    with pytest.raises(ValueError, match="resource"):
        random_search([{}], lambda c, r: 0.0, 0)


def test_holdout_and_classifier_objective():
    from accel_lib.budget.halving import classifier_objective, holdout
    from accel_lib.core import ImageData
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (80, 3, 16, 16), dtype=torch.uint8, generator=g)
    y = torch.randint(0, 10, (80,), generator=g)
    data = ImageData(x, y, x[:8], y[:8], tuple("abcdefghij"), "random (tests only)")
    split = holdout(data, 16)
    assert len(split.train_y) == 64 and len(split.test_y) == 16
    rows = {tuple(r.flatten().tolist()) for r in split.train_x.flatten(1)}
    assert not any(tuple(r.flatten().tolist()) in rows for r in split.test_x.flatten(1))   # disjoint
    log = []
    f = classifier_objective(split, log=log, widths=(4, 4, 4), batch_size=16, device="cpu")
    loss = f({"lr": 0.1, "weight_decay": 0.0}, 3)
    assert log[0]["steps"] == 3 and log[0]["test_loss"] == loss and log[0]["lr"] == 0.1
    with pytest.raises(ValueError, match="n_val"):
        holdout(data, 80)
