"""Cramming ablation: the best char-LM in a fixed number of training seconds on this device, each
change applied on top of the previous ones, every run with the same wall-clock budget. Also records
how far each run overshot its wall-clock budget, as a fraction of its last step's duration.

    python benchmarks/budget_cramming.py                 # 30 s per run (about 4 CPU minutes)
    python benchmarks/budget_cramming.py --seconds 300   # 5 minutes per run

Writes benchmarks/results/budget_cramming.json.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from accel_lib.budget import cramming_ablation
from accel_lib.core import load_tinyshakespeare, provenance

OUT = Path(__file__).resolve().parent / "results" / "budget_cramming.json"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--full", action="store_true", help="300 s per run")
    ap.add_argument("--out", default=str(OUT))
    a = ap.parse_args()
    seconds = 300.0 if a.full else a.seconds
    data = load_tinyshakespeare()
    t = time.time()
    recs = cramming_ablation(data, seconds, eval_batches=40)
    for r in recs:
        r["overshoot_seconds"] = r["train_seconds"] - seconds
        r["overshoot_in_last_steps"] = r["overshoot_seconds"] / r["last_step_seconds"]
        r["mean_step_seconds"] = r["train_seconds"] / max(1, r["steps"])
        print(f"{r['label']:<70} val loss {r['val_loss']:.3f}  steps {r['steps']:>5}  "
              f"overshoot {r['overshoot_seconds']:.3f} s = {r['overshoot_in_last_steps']:.2f} of the last step", flush=True)
    out = {"settings": {"seconds_per_run": seconds, "eval_batches": 40, "seeds": 1, "threads": torch.get_num_threads()},
           "records": recs, "wall_seconds": round(time.time() - t, 1),
           "provenance": provenance(" ".join(["python", "benchmarks/budget_cramming.py", *sys.argv[1:]]))}
    Path(a.out).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    torch.set_num_threads(int(__import__("os").environ.get("OMP_NUM_THREADS", "1")))
    main()
