"""Budget sweep (Li, Yumer and Ramanan, 2020, at small scale): FastCNN on a CIFAR-10 subset, budgets
of 10/25/50/100% of the baseline's epochs, each with step, cosine, linear-to-zero and REX.

    python benchmarks/budget_sweep.py           # the modest default (a few CPU minutes)
    python benchmarks/budget_sweep.py --full    # full CIFAR-10, wider net, longer baseline (GPU)

Writes benchmarks/results/budget_sweep.json (settings, records, table, winners, provenance).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from accel_lib.budget import best_by_fraction, budget_sweep, sweep_table
from accel_lib.core import load_cifar10, provenance

OUT = Path(__file__).resolve().parent / "results" / "budget_sweep.json"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--out", default=str(OUT))
    a = ap.parse_args()
    if a.full:
        s = dict(n_train=None, n_test=None, base_epochs=16, widths=(64, 256, 256), batch_size=512, lr=0.4)
    else:
        s = dict(n_train=4000, n_test=2000, base_epochs=4, widths=(8, 16, 32), batch_size=64, lr=0.5)
    data = load_cifar10()
    if s["n_train"]:
        data = data.subset(s["n_train"], s["n_test"], seed=0)
    t = time.time()
    recs = budget_sweep(data, s["base_epochs"], widths=s["widths"], batch_size=s["batch_size"], lr=s["lr"])
    out = {"settings": {**s, "widths": list(s["widths"]), "fractions": [0.1, 0.25, 0.5, 1.0],
                        "schedules": ["step", "cosine", "linear", "rex"], "optimizer": "SGD nesterov 0.9, wd 5e-4",
                        "data": data.source, "seeds": 1},
           "records": recs, "table": sweep_table(recs), "winners": {str(k): v for k, v in best_by_fraction(recs).items()},
           "wall_seconds": round(time.time() - t, 1),
           "provenance": provenance(" ".join(["python", "benchmarks/budget_sweep.py", *sys.argv[1:]]))}
    Path(a.out).write_text(json.dumps(out, indent=1))
    print(out["table"])
    print("winners:", out["winners"], f"({out['wall_seconds']} s)")


if __name__ == "__main__":
    torch.set_num_threads(int(__import__("os").environ.get("OMP_NUM_THREADS", "1")))
    main()
