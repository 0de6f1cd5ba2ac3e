"""Activation checkpointing on the reference deep model (GPT, 8 blocks by default): saved-activation
bytes (exact), FLOPs per step (counted) and time per forward+backward (interleaved), for
checkpointing every k-th block, with the from-scratch and the torch implementations.

Usage: python benchmarks/system_checkpointing.py [--full]
Writes benchmarks/results/system_checkpointing.json. Target: bytes at least halved (k=1).
"""
from __future__ import annotations

import copy
import json
import os
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

from accel_lib.core import GPT, GPTConfig, compare, count_flops, provenance, saved_activation_bytes, seed_everything
from accel_lib.system.checkpointing import apply_activation_checkpointing

OUT = Path(__file__).resolve().parent / "results" / "system_checkpointing.json"


def main(full: bool) -> dict:
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    cfg = GPTConfig(block_size=128, n_layer=16, n_head=4, n_embd=128) if full else \
        GPTConfig(block_size=64, n_layer=8, n_head=4, n_embd=64)
    batch = 32 if full else 8
    seed_everything(0)
    base = GPT(cfg)
    idx = torch.randint(0, cfg.vocab_size, (batch, cfg.block_size))

    def step(m):
        return lambda: F.cross_entropy(m(idx).flatten(0, 1), idx.flatten()).backward()
    variants = {"none": base}
    for k in (1, 2, 4):
        variants[f"scratch, every {k}"] = apply_activation_checkpointing(copy.deepcopy(base), every=k)
    variants["torch, every 1"] = apply_activation_checkpointing(copy.deepcopy(base), every=1, impl="torch")
    rows = {}
    for name, m in variants.items():
        rows[name] = {"saved_bytes": saved_activation_bytes(lambda: m(idx))["activations"],
                      "flops": count_flops(step(m))}
    t = compare({k: step(m) for k, m in variants.items()}, repeats=5, warmup=1)
    for name in rows:
        rows[name]["ms"] = t[name].median * 1e3
        rows[name]["bytes_ratio"] = rows[name]["saved_bytes"] / rows["none"]["saved_bytes"]
        rows[name]["flops_ratio"] = rows[name]["flops"] / rows["none"]["flops"]
        rows[name]["time_ratio"] = t[name].median / t["none"].median
        print(f"{name:18} saved {rows[name]['saved_bytes'] / 2**20:7.2f} MiB ({rows[name]['bytes_ratio']:.2f}x)  "
              f"FLOPs {rows[name]['flops_ratio']:.2f}x  time {rows[name]['time_ratio']:.2f}x", flush=True)
    res = {"model": f"GPT n_layer={cfg.n_layer} n_embd={cfg.n_embd} T={cfg.block_size}", "batch": batch,
           "rows": rows, "target_bytes_halved": rows["scratch, every 1"]["bytes_ratio"] <= 0.5,
           "provenance": provenance("python benchmarks/system_checkpointing.py" + (" --full" if full else ""))}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(res, indent=1))
    return res


if __name__ == "__main__":
    main("--full" in sys.argv)
