"""Compute-optimal sizing of the character LM (a small Chinchilla "IsoFLOP" experiment): for each
FLOP budget, train several GPT sizes to the same training FLOPs and fit the best size.

    python benchmarks/budget_compute_optimal.py          # modest default (about 7 minutes on a busy 2-core CPU)
    python benchmarks/budget_compute_optimal.py --full   # bigger budgets and sizes (GPU)

Writes benchmarks/results/budget_compute_optimal.json.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from accel_lib.budget import compute_optimal_sweep, fit_optimum
from accel_lib.core import load_tinyshakespeare, provenance

OUT = Path(__file__).resolve().parent / "results" / "budget_compute_optimal.json"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--out", default=str(OUT))
    a = ap.parse_args()
    if a.full:
        s = dict(budgets=[1e14, 3e14, 1e15], sizes=[(2, 64), (3, 96), (4, 128), (6, 192), (8, 256), (8, 384)],
                 block_size=128, batch_size=64, lr=2e-3)
    else:
        s = dict(budgets=[1e10, 3e10, 1e11], sizes=[(1, 16), (1, 24), (1, 32), (2, 48), (2, 64)],
                 block_size=64, batch_size=32, lr=3e-3)
    data = load_tinyshakespeare()
    t = time.time()
    runs, fits = [], {}
    for c in s["budgets"]:
        recs = compute_optimal_sweep(data, c, s["sizes"], block_size=s["block_size"], batch_size=s["batch_size"],
                                     lr=s["lr"])
        runs.extend(recs)
        fit = fit_optimum(recs)
        best = min(recs, key=lambda r: r["val_loss"])
        fits[f"{c:g}"] = {**fit, "best_measured": {k: best[k] for k in ("n_layer", "n_embd", "non_embedding_params",
                                                                      "tokens_per_param", "val_loss")}}
        print(f"C={c:.0e}: " + ", ".join(f"{r['n_layer']}x{r['n_embd']} {r['val_loss']:.3f}" for r in recs)
              + f" -> fit optimum {fit['x']:.3g} non-embedding params (interior: {fit['interior']})", flush=True)
    out = {"settings": {**s, "sizes": [list(z) for z in s["sizes"]], "optimizer": "AdamW (0.9, 0.95), wd 0.1, "
                        "linear-to-zero with 5% warmup", "seeds": 1},
           "records": runs, "fits": fits, "wall_seconds": round(time.time() - t, 1),
           "provenance": provenance(" ".join(["python", "benchmarks/budget_compute_optimal.py", *sys.argv[1:]]))}
    Path(a.out).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    torch.set_num_threads(int(__import__("os").environ.get("OMP_NUM_THREADS", "1")))
    main()
