"""Successive halving against random search with the same total budget (in optimizer steps):
FastCNN on a CIFAR-10 subset, searching the SGD learning rate and weight decay on a held-out
validation split; the winners are then scored on the test set. Repeated over several search seeds.

    python benchmarks/budget_search.py          # modest default (a few CPU minutes)
    python benchmarks/budget_search.py --full   # full CIFAR-10, more configurations (GPU)

Writes benchmarks/results/budget_search.json.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from accel_lib.budget import (classifier_objective, equal_budget_random_search, holdout, random_search,
                              sample_configs, successive_halving, train_for_budget)
from accel_lib.core import Budget, load_cifar10, provenance

OUT = Path(__file__).resolve().parent / "results" / "budget_search.json"
SPACE = {"lr": (0.01, 4.0, "log"), "weight_decay": (1e-5, 1e-2, "log")}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--out", default=str(OUT))
    a = ap.parse_args()
    if a.full:
        s = dict(n_train=None, n_val=5000, n=27, min_steps=20, eta=3, widths=(32, 64, 128), batch_size=256, seeds=5)
    else:
        s = dict(n_train=3000, n_val=500, n=9, min_steps=8, eta=3, widths=(8, 16, 32), batch_size=32, seeds=2)
    data = load_cifar10()
    if s["n_train"]:
        data = data.subset(s["n_train"], 2000, seed=0)
    val = holdout(data, s["n_val"])
    kw = dict(widths=s["widths"], batch_size=s["batch_size"])
    n_rs, r_rs = equal_budget_random_search(s["n"], s["min_steps"], s["eta"])
    t = time.time()
    results = []
    for seed in range(s["seeds"]):
        g = torch.Generator().manual_seed(seed)
        cfgs = sample_configs(SPACE, s["n"], g)
        sh = successive_halving(cfgs, classifier_objective(val, **kw), s["min_steps"], s["eta"])
        rs = random_search(cfgs[:n_rs], classifier_objective(val, **kw), r_rs)   # the first n_rs of the same draws
        row = {"seed": seed}
        for name, res in (("halving", sh), ("random", rs)):
            test = train_for_budget(data, Budget(int(r_rs), "steps"), "linear", **kw, **res.best_config)
            row[name] = {"best_config": res.best_config, "val_loss": res.best_loss, "cost_steps": res.cost,
                         "configs_tried": len({t_["config"] for t_ in res.trials}),
                         "test_accuracy": test["accuracy"], "test_loss": test["test_loss"]}
        results.append(row)
        print(f"seed {seed}: halving {row['halving']['test_accuracy']:.3f} (lr {sh.best_config['lr']:.3g}) vs "
              f"random {row['random']['test_accuracy']:.3f} (lr {rs.best_config['lr']:.3g}), "
              f"cost {sh.cost:g} = {rs.cost:g} steps", flush=True)
    mean = {k: sum(r[k]["test_accuracy"] for r in results) / len(results) for k in ("halving", "random")}
    out = {"settings": {**s, "widths": list(s["widths"]), "space": {k: list(v) for k, v in SPACE.items()},
                        "random_search": {"trials": n_rs, "steps_each": r_rs}, "data": data.source},
           "results": results, "mean_test_accuracy": mean, "wall_seconds": round(time.time() - t, 1),
           "provenance": provenance(" ".join(["python", "benchmarks/budget_search.py", *sys.argv[1:]]))}
    Path(a.out).write_text(json.dumps(out, indent=1))
    print("mean test accuracy:", mean)


if __name__ == "__main__":
    torch.set_num_threads(int(__import__("os").environ.get("OMP_NUM_THREADS", "1")))
    main()
