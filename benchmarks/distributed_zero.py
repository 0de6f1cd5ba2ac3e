"""Benchmark: per-rank persistent bytes (weights, gradients, optimizer state) of ZeRO-1/2/3,
FSDP2 and ZeroRedundancyOptimizer vs DDP and vs the planner's 1/N theory, on 2 and 4 gloo ranks,
plus equality of the trained weights with DDP.

Target (issue 8): ZeRO per-rank memory within 5% of theory.
Usage: python benchmarks/distributed_zero.py [--full]  -> benchmarks/results/distributed_zero.json
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from accel_lib.core import provenance
from accel_lib.system.distributed.launch import run_workers
from accel_lib.system.distributed.planner import Workload, memory_per_device
from accel_lib.system.distributed.zero import check_zero


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--full", action="store_true", help="a wider model")
    a = ap.parse_args()
    width = 1023 if a.full else 255
    rows, worst = [], 0.0
    for n in (2, 4):
        res = run_workers(check_zero, n, kwargs={"width": width, "depth": 4}, timeout=900)
        for rank, r in enumerate(res):
            w = Workload(n_params=r["n_params"], weight_bytes=4, grad_bytes=4, optim_bytes=8)
            for strategy, key in (("dp", "ddp"), ("zero1", "zero1"), ("zero2", "zero2"), ("zero3", "zero3")):
                pred = memory_per_device(strategy, w, n)
                got = r[key]["bytes"]
                err = {k: (got[k] - pred[k]) / pred[k] for k in ("params", "grads", "optim")}
                worst = max(worst, max(abs(v) for v in err.values()))
                rows.append({"ranks": n, "rank": rank, "strategy": key, "measured": got,
                             "predicted": {k: pred[k] for k in ("params", "grads", "optim")},
                             "relative_error": err, "weight_diff_vs_ddp": r[key]["diff"]})
            for key in ("fsdp2", "zero_redundancy_optimizer"):
                rows.append({"ranks": n, "rank": rank, "strategy": key, "measured": r[key]["bytes"],
                             "weight_diff_vs_ddp": r[key]["diff"]})
        print(f"{n} ranks, rank 0:", {k: res[0][k]["bytes"] for k in ("ddp", "zero1", "zero2", "zero3", "fsdp2")}, flush=True)
    summary = {"worst_relative_error": worst, "target": "within 5% of theory", "met": worst <= 0.05,
               "n_params": rows[0]["measured"]["params"] // 4}
    print(summary)
    res = {"benchmark": "distributed_zero", "width": width, "backend": "gloo", "rows": rows, "summary": summary,
           "provenance": provenance(" ".join(["python"] + sys.argv))}
    out = Path(__file__).resolve().parent / "results" / "distributed_zero.json"
    out.write_text(json.dumps(res, indent=1))
    print("wrote", out)


if __name__ == "__main__":
    main()
