"""Benchmark: step time of our bucketed, overlapped data parallelism vs DistributedDataParallel
(and naive per-tensor all-reduce) on 2 gloo ranks, several independent runs, interleaved steps.

Target (issue 8): bucketed within 10% of DDP's step time on 2 gloo ranks.
Usage: python benchmarks/distributed_ddp.py [--full]   -> benchmarks/results/distributed_ddp.json
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from accel_lib.core import provenance
from accel_lib.system.distributed.data_parallel import time_data_parallel
from accel_lib.system.distributed.launch import run_workers


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--full", action="store_true", help="bigger model, more runs")
    a = ap.parse_args()
    cfg = dict(width=1024, depth=8, batch=64, repeats=15) if a.full else dict(width=768, depth=6, batch=32, repeats=9)
    runs = 5 if a.full else 3
    records = []
    for i in range(runs):
        out = run_workers(time_data_parallel, 2, kwargs=dict(cfg, seed=i), timeout=900)[0]
        m = out["median_s"]
        rec = {"run": i, "median_s": m, "bucketed_over_ddp": m["bucketed"] / m["ddp"],
               "naive_over_ddp": m["naive"] / m["ddp"], "buckets": out["buckets"], "grad_bytes": out["grad_bytes"]}
        records.append(rec)
        print(f"run {i}: naive {m['naive']*1e3:.1f} ms, bucketed {m['bucketed']*1e3:.1f} ms, DDP {m['ddp']*1e3:.1f} ms "
              f"-> bucketed/DDP {rec['bucketed_over_ddp']:.3f}", flush=True)
    ratio = statistics.median(r["bucketed_over_ddp"] for r in records)
    summary = {"bucketed_over_ddp_median": ratio, "naive_over_ddp_median": statistics.median(r["naive_over_ddp"] for r in records),
               "target": "bucketed within 10% of DDP", "met": abs(ratio - 1) <= 0.10}
    print(summary)
    res = {"benchmark": "distributed_ddp", "config": cfg, "ranks": 2, "backend": "gloo", "runs": records,
           "summary": summary, "provenance": provenance(" ".join(["python"] + sys.argv))}
    out = Path(__file__).resolve().parent / "results" / "distributed_ddp.json"
    out.write_text(json.dumps(res, indent=1))
    print("wrote", out)


if __name__ == "__main__":
    main()
