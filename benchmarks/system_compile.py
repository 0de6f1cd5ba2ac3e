"""torch.compile on the reference models: cold compile time and the speedup of a training step
(forward + backward + SGD step) and of inference, eager vs compiled, timed interleaved.

Usage: python benchmarks/system_compile.py [--full]
Writes benchmarks/results/system_compile.json. The default sizes are small enough for a 2-core CPU
(a few minutes, most of it compiling); --full uses the book's full widths and batch 256.
"""
from __future__ import annotations

import copy
import json
import os
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from accel_lib.core import (GPT, FastCNN, GPTConfig, compare, default_device, provenance, resnet18_cifar,
                            seed_everything, synchronize)
from accel_lib.system.compilation import apply_compile, graph_breaks

OUT = Path(__file__).resolve().parent / "results" / "system_compile.json"


def models(full: bool) -> dict:
    b = 256 if full else 32
    return {
        "FastCNN": (lambda: FastCNN((64, 256, 256) if full else (16, 32, 64)), lambda: torch.randn(b, 3, 32, 32),
                    lambda: torch.randint(0, 10, (b,))),
        "ResNet-18": (resnet18_cifar, lambda: torch.randn(b if full else 16, 3, 32, 32),
                      lambda: torch.randint(0, 10, (b if full else 16,))),
        "GPT": (lambda: GPT(GPTConfig() if full else GPTConfig(block_size=64, n_layer=2, n_embd=64, n_head=2)),
                lambda: torch.randint(0, 65, (b if full else 16, 128 if full else 64)),
                lambda: torch.randint(0, 65, (b if full else 16, 128 if full else 64))),
    }


def loss_of(out, y):
    return F.cross_entropy(out.flatten(0, 1), y.flatten()) if out.dim() == 3 else F.cross_entropy(out, y)


def main(full: bool) -> dict:
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    dev = default_device()
    res = {"models": {}}
    for name, (make, mx, my) in models(full).items():
        seed_everything(0)
        eager = make().to(dev)
        comp_model = copy.deepcopy(eager)
        x, y = mx().to(dev), my().to(dev)
        breaks = graph_breaks(lambda inp: eager(inp), x)
        compiled = apply_compile(comp_model)
        opt_e = torch.optim.SGD(eager.parameters(), lr=1e-3)
        opt_c = torch.optim.SGD(comp_model.parameters(), lr=1e-3)

        def step(model, opt):
            def f():
                loss_of(model(x), y).backward()
                opt.step()
                opt.zero_grad(set_to_none=True)
            return f
        t0 = time.perf_counter()
        step(compiled, opt_c)()
        synchronize(dev)
        compile_train = time.perf_counter() - t0
        t = compare({"eager": step(eager, opt_e), "compiled": step(compiled, opt_c)}, repeats=5, warmup=1, device=dev)
        eager.eval(), compiled.eval()
        with torch.no_grad():
            t0 = time.perf_counter()
            compiled(x)
            synchronize(dev)
            compile_inf = time.perf_counter() - t0
            ti = compare({"eager": lambda: eager(x), "compiled": lambda: compiled(x)}, repeats=5, warmup=1, device=dev)
        row = {"batch": int(x.shape[0]), "graph_breaks": breaks["breaks"], "graphs": breaks["graphs"],
               "compile_s_train": compile_train, "compile_s_inference": compile_inf,
               "train_ms": {k: v.median * 1e3 for k, v in t.items()},
               "train_speedup": t["eager"].median / t["compiled"].median,
               "inference_ms": {k: v.median * 1e3 for k, v in ti.items()},
               "inference_speedup": ti["eager"].median / ti["compiled"].median}
        res["models"][name] = row
        print(f"{name:10} breaks {row['graph_breaks']}  compile {compile_train:6.1f} s (train) "
              f"{compile_inf:5.1f} s (inference)  speedup train {row['train_speedup']:.2f}x  "
              f"inference {row['inference_speedup']:.2f}x", flush=True)
    res["provenance"] = provenance("python benchmarks/system_compile.py" + (" --full" if full else ""))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(res, indent=1))
    return res


if __name__ == "__main__":
    main("--full" in sys.argv)
