"""Memory breakdown of the reference models: fitted activation models per precision mode, and the
prediction checked against one measured training step.

Usage: python benchmarks/system_memory.py [--full]
Writes benchmarks/results/system_memory.json (read by book/system/memory.ipynb's explorer).
--full also checks ResNet-18 at batch 16 (slow on a CPU in low precision).
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch

from accel_lib.core import GPT, FastCNN, GPTConfig, count_params, provenance, resnet18_cifar, seed_everything
from accel_lib.system.memory_model import MODES, fit_activation_model, measure_memory, predict_memory, prepare_model

OUT = Path(__file__).resolve().parent / "results" / "system_memory.json"

MODELS = {
    "FastCNN (32, 64, 128), 32x32": (FastCNN, lambda b: torch.randn(b, 3, 32, 32), lambda b: torch.randint(0, 10, (b,))),
    "ResNet-18 (CIFAR), 32x32": (resnet18_cifar, lambda b: torch.randn(b, 3, 32, 32), lambda b: torch.randint(0, 10, (b,))),
    "GPT (4 layers, 128 wide), 128 tokens": (lambda: GPT(GPTConfig()), lambda b: torch.randint(0, 65, (b, 128)),
                                             lambda b: torch.randint(0, 65, (b, 128))),
}


def main(full: bool) -> dict:
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    check_b = 16 if full else 4
    res = {"models": {}, "check_batch": check_b}
    for name, (make, make_x, make_y) in MODELS.items():
        entry = {"modes": {}}
        for mode in MODES:
            seed_everything(0)
            model = prepare_model(make(), mode)
            act = fit_activation_model(model, make_x, mode, batches=(1, 2))
            entry["n_params"] = count_params(model)
            row = {"per_sample": act.per_sample, "constant": act.constant}
            if full or "ResNet" not in name or mode == "fp32":
                seed_everything(0)
                meas = measure_memory(prepare_model(make(), mode), make_x(check_b), make_y(check_b), mode, "adamw")
                pred = predict_memory(entry["n_params"], check_b, mode, "adamw", act)
                row["measured"], row["predicted"] = meas, pred
                row["max_rel_error"] = max(abs(pred[k] - meas[k]) / meas[k] for k in meas if meas[k])
            entry["modes"][mode] = row
            print(f"{name:38} {mode:14} per sample {act.per_sample / 2**20:7.2f} MiB  constant "
                  f"{act.constant / 2**20:6.2f} MiB  max rel error {row.get('max_rel_error', float('nan')):.4f}", flush=True)
        res["models"][name] = entry
    res["provenance"] = provenance("python benchmarks/system_memory.py" + (" --full" if full else ""))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(res, indent=1))
    return res


if __name__ == "__main__":
    main("--full" in sys.argv)
