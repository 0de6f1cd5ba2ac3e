"""Benchmark: measured pipeline bubble of our GPipe and 1F1B schedules vs (p-1)/(m+p-1), with
fixed-duration stages (SleepStage: the ranks do not compete for the CPU cores) on gloo ranks.

Target (issue 8): measured bubble within 5 points of the formula.
Usage: python benchmarks/distributed_pipeline.py [--full]  -> benchmarks/results/distributed_pipeline.json
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from accel_lib.core import provenance
from accel_lib.system.distributed.launch import run_workers
from accel_lib.system.distributed.pipeline_parallel import measure_bubble


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--full", action="store_true", help="more (p, m) pairs and longer stages")
    a = ap.parse_args()
    cases = [(2, 4), (2, 8), (4, 4), (4, 8), (4, 16)] if not a.full else [(2, 4), (2, 8), (2, 16), (4, 4), (4, 8), (4, 16), (8, 8), (8, 16)]
    t_f, t_b = (0.1, 0.2) if not a.full else (0.2, 0.4)
    rows = []
    for p, m in cases:
        for sched in ("gpipe", "1f1b"):
            r = run_workers(measure_bubble, p, kwargs=dict(m=m, t_f=t_f, t_b=t_b, schedule=sched), timeout=900)[0]
            row = {"p": p, "m": m, "schedule": sched, "measured": r["bubble"], "formula": r["formula"],
                   "points": 100 * (r["bubble"] - r["formula"]), "makespan_s": r["makespan"]}
            rows.append(row)
            print(f"p={p} m={m:2d} {sched:>5}: measured {row['measured']:.3f}, formula {row['formula']:.3f}, "
                  f"{row['points']:+.1f} points", flush=True)
    worst = max(abs(r["points"]) for r in rows)
    summary = {"worst_points": worst, "target": "within 5 points of the formula", "met": worst <= 5.0}
    print(summary)
    res = {"benchmark": "distributed_pipeline", "stage": f"SleepStage t_f={t_f}s t_b={t_b}s", "backend": "gloo",
           "rows": rows, "summary": summary, "provenance": provenance(" ".join(["python"] + sys.argv))}
    out = Path(__file__).resolve().parent / "results" / "distributed_pipeline.json"
    out.write_text(json.dumps(res, indent=1))
    print("wrote", out)


if __name__ == "__main__":
    main()
