"""Attention three ways (naive, tiled/online-softmax, SDPA): forward+backward time and bytes saved
for backward as the sequence length grows, all in one run on this machine.

Usage: python benchmarks/model_attention.py [--full]
Writes benchmarks/results/model_attention.json (with provenance). Times are medians of interleaved
repeats (accel_lib.core.compare); bytes are exact (saved-tensor storages).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from accel_lib.core import compare, format_fingerprint, provenance  # noqa: E402
from accel_lib.model.attention import (ATTENTION_IMPLS, attention_saved_bytes_model,  # noqa: E402
                                       measure_attention_saved_bytes)


def run(seq_lens, batch, heads, head_dim, repeats, device):
    rows = []
    for t in seq_lens:
        g = torch.Generator().manual_seed(t)
        q, k, v = (torch.randn(batch, heads, t, head_dim, generator=g).to(device).requires_grad_(True)
                   for _ in range(3))
        go = torch.randn(batch, heads, t, head_dim, generator=g).to(device)

        def step(fn):
            def f():
                out = fn(q, k, v, causal=True)
                torch.autograd.grad(out, (q, k, v), go)
            return f
        ref = ATTENTION_IMPLS["sdpa"](q, k, v, causal=True)
        err = {n: float((f(q, k, v, causal=True) - ref).abs().max().detach()) for n, f in ATTENTION_IMPLS.items()}
        times = compare({n: step(f) for n, f in ATTENTION_IMPLS.items()}, repeats=repeats, warmup=1, device=device)
        row = {"seq_len": t, "max_abs_diff_vs_sdpa": err}
        for n in ATTENTION_IMPLS:
            row[n] = {"seconds": times[n].median, "iqr": times[n].iqr,
                      "saved_bytes": measure_attention_saved_bytes(t, n, batch, heads, head_dim, causal=True),
                      "predicted_bytes": attention_saved_bytes_model(t, n, batch, heads, head_dim, causal=True)}
        row["tiled_time_vs_sdpa"] = row["tiled"]["seconds"] / row["sdpa"]["seconds"]
        row["tiled_time_vs_naive"] = row["tiled"]["seconds"] / row["naive"]["seconds"]
        row["naive_bytes_vs_tiled"] = row["naive"]["saved_bytes"] / row["tiled"]["saved_bytes"]
        rows.append(row)
        print(f"T={t:5d}  time naive {row['naive']['seconds'] * 1e3:8.1f} ms  tiled {row['tiled']['seconds'] * 1e3:8.1f} ms"
              f"  sdpa {row['sdpa']['seconds'] * 1e3:8.1f} ms | tiled/sdpa {row['tiled_time_vs_sdpa']:.1f}x"
              f"  tiled/naive {row['tiled_time_vs_naive']:.2f}x | saved MiB naive "
              f"{row['naive']['saved_bytes'] / 2 ** 20:.1f} tiled {row['tiled']['saved_bytes'] / 2 ** 20:.2f}"
              f" ({row['naive_bytes_vs_tiled']:.0f}x)", flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", action="store_true", help="longer sequences and more repeats")
    args = ap.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    seq_lens = [128, 256, 512, 1024, 2048, 4096] if args.full else [128, 256, 512, 1024]
    cfg = dict(batch=1, heads=4, head_dim=32, repeats=7 if args.full else 3)
    print(format_fingerprint())
    rows = run(seq_lens, device=device, **cfg)
    cmd = "python benchmarks/model_attention.py" + (" --full" if args.full else "")
    out = {"provenance": provenance(cmd), "config": {**cfg, "causal": True, "block_size": 64, "dtype": "float32"},
           "rows": rows}
    path = ROOT / "benchmarks" / "results" / "model_attention.json"
    path.write_text(json.dumps(out, indent=1))
    print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
