"""AdamW update time: from-scratch loop and foreach versus torch's loop, foreach and fused
implementations, on the parameters of the reference models (gradients preset), timed interleaved.

Usage: python benchmarks/system_optimizer_step.py [--full]
Writes benchmarks/results/system_optimizer_step.json.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch

from accel_lib.core import GPT, FastCNN, GPTConfig, compare, provenance, resnet18_cifar, seed_everything
from accel_lib.system.optimizer_step import ScratchAdamW

OUT = Path(__file__).resolve().parent / "results" / "system_optimizer_step.json"


def main(full: bool) -> dict:
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    models = {"FastCNN": FastCNN, "GPT": lambda: GPT(GPTConfig())}
    if full:
        models["ResNet-18"] = resnet18_cifar
    res = {"models": {}}
    for name, make in models.items():
        seed_everything(0)
        m = make()
        for p in m.parameters():
            p.grad = torch.randn_like(p) * 1e-3
        opts = {"scratch loop": ScratchAdamW(m.parameters(), impl="loop"),
                "scratch foreach": ScratchAdamW(m.parameters(), impl="foreach"),
                "torch loop": torch.optim.AdamW(m.parameters(), foreach=False),
                "torch foreach": torch.optim.AdamW(m.parameters(), foreach=True),
                "torch fused": torch.optim.AdamW(m.parameters(), fused=True)}
        t = compare({k: o.step for k, o in opts.items()}, repeats=9 if full else 5, warmup=2)
        row = {"tensors": len(list(m.parameters())), "params": sum(p.numel() for p in m.parameters()),
               "ms": {k: v.median * 1e3 for k, v in t.items()},
               "speedup_vs_scratch_loop": {k: t["scratch loop"].median / v.median for k, v in t.items()}}
        res["models"][name] = row
        print(name, row["tensors"], "tensors:", {k: f"{v:.2f}x" for k, v in row["speedup_vs_scratch_loop"].items()}, flush=True)
    res["provenance"] = provenance("python benchmarks/system_optimizer_step.py" + (" --full" if full else ""))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(res, indent=1))
    return res


if __name__ == "__main__":
    main("--full" in sys.argv)
