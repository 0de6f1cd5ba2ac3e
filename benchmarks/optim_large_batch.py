"""LARS and LAMB at 4x and 16x the baseline batch, same epochs, vs SGD/AdamW with scaling rules.

Usage: python benchmarks/optim_large_batch.py [--full] [--epochs E]
Writes benchmarks/results/optim_large_batch.json: final test accuracy and training time per
(optimizer, batch), and ratios to the baseline (SGD at the base batch).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from accel_lib.core import Budget, FastCNN, ImageLoader, evaluate_classifier, load_cifar10, provenance, set_threads, train
from accel_lib.optim import schedules as S
from accel_lib.optim.lamb import LAMB
from accel_lib.optim.lars import LARS
from accel_lib.optim.linear_scaling import scaled_lr


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--base-batch", type=int, default=32)
    ap.add_argument("--lars-lr", type=float, default=None)
    ap.add_argument("--lamb-lr", type=float, default=None)
    ap.add_argument("--multiples", type=int, nargs="+", default=[4, 16], help="batch multiples to run")
    args = ap.parse_args()
    set_threads()
    n_train, n_test, widths, epochs = (50_000, 10_000, (64, 256, 256), 16) if args.full else (4096, 1000, (16, 32, 64), 3)
    epochs = args.epochs or epochs
    d = load_cifar10().subset(n_train, n_test, seed=0)
    acc = lambda m: evaluate_classifier(m, d.test_x, d.test_y)["accuracy"]
    b0 = args.base_batch
    sched = S.warmup_cosine(0.15)
    sgd = lambda lr: (lambda p: torch.optim.SGD(p, lr=lr, momentum=0.9, nesterov=True, weight_decay=5e-4))
    lars_lr = args.lars_lr if args.lars_lr is not None else LARS_LR
    lamb_lr = args.lamb_lr if args.lamb_lr is not None else LAMB_LR
    configs = [("SGD", 1, sgd(0.05))]
    for k in args.multiples:
        configs += [("SGD+linear", k, sgd(scaled_lr(0.05, b0, b0 * k))),
                    ("AdamW+sqrt", k, lambda p, k=k: torch.optim.AdamW(p, lr=scaled_lr(1e-3, b0, b0 * k, "sqrt"), weight_decay=0.05)),
                    ("LARS", k, lambda p: LARS(p, lr=lars_lr, momentum=0.9, weight_decay=5e-4)),
                    ("LAMB", k, lambda p: LAMB(p, lr=lamb_lr, weight_decay=0.01))]
    rows = []
    for name, k, opt in configs:
        torch.manual_seed(0)
        st = train(FastCNN(widths), ImageLoader(d.train_x, d.train_y, b0 * k, crop_pad=2, flip=True, seed=0),
                   budget=Budget(epochs, "epochs"), optimizer=opt, lr_schedule=sched, evaluate=lambda m: {"accuracy": acc(m)})
        rows.append({"optimizer": name, "batch": b0 * k, "multiple": k, "accuracy": st.evals[-1]["accuracy"],
                     "seconds": st.counters.seconds, "steps": st.counters.step})
        print(rows[-1], flush=True)
    base = rows[0]
    for r in rows:
        r["accuracy_ratio"] = r["accuracy"] / base["accuracy"]
        r["time_ratio"] = r["seconds"] / base["seconds"]
    out = {"settings": dict(n_train=n_train, widths=widths, epochs=epochs, base_batch=b0, lars_lr=lars_lr, lamb_lr=lamb_lr,
                            multiples=args.multiples),
           "rows": rows, "provenance": provenance(" ".join(["python"] + sys.argv))}
    path = Path(__file__).resolve().parent / "results" / "optim_large_batch.json"
    path.write_text(json.dumps(out, indent=1))
    print("->", path)


LARS_LR, LAMB_LR = 8.0, 0.04   # best of {2, 8, 24, 48} and {0.01, 0.04, 0.1, 0.2} at batch 512 on the default subset

if __name__ == "__main__":
    main()
