"""One-cycle (super-convergence) vs a step schedule: time-to-accuracy on CIFAR-10, same run.

Usage: python benchmarks/optim_onecycle.py [--full] [--seeds N]
Writes benchmarks/results/optim_onecycle.json. Each seed trains both schedules, interleaved; the
target is the step baseline's final test accuracy (per seed). The one-cycle peak comes from an LR
range test on the same data.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import torch

from accel_lib.core import (Budget, FastCNN, ImageLoader, evaluate_classifier, load_cifar10, provenance,
                            set_threads, time_to_target, train)
from accel_lib.optim import schedules as S
from accel_lib.optim.lr_range_test import lr_range_test


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", action="store_true", help="all of CIFAR-10, airbench widths, 16 epochs")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--n-train", type=int, default=None)
    args = ap.parse_args()
    set_threads()
    n_train, n_test, widths, epochs = (50_000, 10_000, (64, 256, 256), 16) if args.full else (4096, 1000, (16, 32, 64), 4)
    epochs = args.epochs or epochs
    n_train = args.n_train or n_train
    d = load_cifar10().subset(n_train, n_test, seed=0)
    bs = 128 if not args.full else 512
    sgd = lambda lr: (lambda p: torch.optim.SGD(p, lr=lr, momentum=0.9, nesterov=True, weight_decay=5e-4))
    loader = lambda seed: ImageLoader(d.train_x, d.train_y, bs, crop_pad=2, flip=True, seed=seed)
    evaluate = lambda m: evaluate_classifier(m, d.test_x, d.test_y)
    torch.manual_seed(0)
    rt = lr_range_test(FastCNN(widths), loader(0), sgd(1.0), min_lr=1e-2, max_lr=100.0, steps=40)
    base_lr = 0.2 * bs / 128
    total = epochs * (n_train // bs)
    out = {"settings": dict(n_train=n_train, n_test=n_test, widths=widths, epochs=epochs, batch=bs, base_lr=base_lr,
                            onecycle_peak=rt.suggestion, range_test_diverged_at=rt.diverged_at), "seeds": []}
    for seed in range(args.seeds):
        rec = {}
        for name, lr, sched in (("step", base_lr, S.step_decay((0.5, 0.75), 0.1)),
                                ("onecycle", rt.suggestion, S.one_cycle(0.25, total_steps=total))):
            torch.manual_seed(seed)
            st = train(FastCNN(widths), loader(seed), budget=Budget(epochs, "epochs"), optimizer=sgd(lr), lr_schedule=sched,
                       evaluate=evaluate, eval_every=max(1, total // 16))
            rec[name] = {"final_accuracy": st.evals[-1]["accuracy"], "seconds": st.counters.seconds, "steps": st.counters.step,
                         "evals": [{k: e[k] for k in ("step", "seconds", "accuracy")} for e in st.evals]}
        target = rec["step"]["final_accuracy"]
        for name in rec:
            rec[name]["steps_to_target"] = time_to_target(rec[name]["evals"], "accuracy", target, clock="step")
            rec[name]["seconds_to_target"] = time_to_target(rec[name]["evals"], "accuracy", target)
        s_oc, s_st = rec["onecycle"]["seconds_to_target"], rec["step"]["seconds_to_target"]
        rec["time_to_target_ratio"] = (s_oc / s_st) if s_oc is not None and s_st else None
        rec["target"] = target
        out["seeds"].append(rec)
        print(f"seed {seed}: target {target:.3f}; step {rec['step']['final_accuracy']:.3f}, one-cycle "
              f"{rec['onecycle']['final_accuracy']:.3f}; time-to-target ratio {rec['time_to_target_ratio']}", flush=True)
    ratios = [r["time_to_target_ratio"] for r in out["seeds"] if r["time_to_target_ratio"] is not None]
    out["summary"] = {"median_time_to_target_ratio": statistics.median(ratios) if ratios else None,
                      "seeds_reaching_target": len(ratios), "seeds": args.seeds}
    out["provenance"] = provenance(" ".join(["python"] + sys.argv))
    path = Path(__file__).resolve().parent / "results" / "optim_onecycle.json"
    path.write_text(json.dumps(out, indent=1))
    print(json.dumps(out["summary"]), "->", path)


if __name__ == "__main__":
    main()
