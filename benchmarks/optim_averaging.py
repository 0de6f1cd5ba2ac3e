"""EMA and SWA vs the last iterate: accuracy at equal steps and steps-to-target on CIFAR-10.

Usage: python benchmarks/optim_averaging.py [--full] [--seeds N]
Writes benchmarks/results/optim_averaging.json. EMA is measured inside the baseline run (it does
not change training); SWA has its own run with a flat LR after 60% of training and is compared
with that run's last iterate and with the baseline.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import torch

from accel_lib.core import (Budget, FastCNN, ImageLoader, evaluate_classifier, load_cifar10, provenance, set_threads,
                            time_to_target, train)
from accel_lib.optim import schedules as S
from accel_lib.optim.ema import EMA
from accel_lib.optim.swa import SWA, swa_schedule


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=None)
    args = ap.parse_args()
    set_threads()
    n_train, n_test, widths, epochs = (50_000, 10_000, (64, 256, 256), 16) if args.full else (4096, 1000, (16, 32, 64), 4)
    epochs = args.epochs or epochs
    d = load_cifar10().subset(n_train, n_test, seed=0)
    acc = lambda m: evaluate_classifier(m, d.test_x, d.test_y)["accuracy"]
    sgd = lambda p: torch.optim.SGD(p, lr=0.2, momentum=0.9, nesterov=True, weight_decay=5e-4)
    total = epochs * (n_train // 128)
    decay = 0.95 if total < 2000 else 0.999
    out = {"settings": dict(n_train=n_train, widths=widths, epochs=epochs, ema_decay=decay, swa_start=0.6), "seeds": []}
    for seed in range(args.seeds):
        loader = ImageLoader(d.train_x, d.train_y, 128, crop_pad=2, flip=True, seed=seed)
        ema = EMA(decay=decay, use_buffers=True)
        torch.manual_seed(seed)
        st = train(FastCNN(widths), loader, budget=Budget(epochs, "epochs"), optimizer=sgd, lr_schedule=S.warmup_cosine(0.1),
                   techniques=[ema], evaluate=lambda m: {"accuracy": acc(m), "ema": acc(ema.module)},
                   eval_every=max(1, total // 16))
        swa = SWA(start=0.6, every=2)
        torch.manual_seed(seed)
        sw = train(FastCNN(widths), loader, budget=Budget(epochs, "epochs"), optimizer=sgd,
                   lr_schedule=swa_schedule(0.6, 0.1), techniques=[swa], evaluate=lambda m: {"accuracy": acc(m)})
        last = st.evals[-1]
        target = 0.9 * last["accuracy"]
        s_last = time_to_target(st.evals, "accuracy", target, clock="step")
        s_ema = time_to_target(st.evals, "ema", target, clock="step")
        rec = {"last_iterate": last["accuracy"], "ema": last["ema"], "swa": acc(swa.module), "swa_last_iterate": sw.evals[-1]["accuracy"],
               "target": target, "steps_to_target_last": s_last, "steps_to_target_ema": s_ema,
               "ema_steps_ratio": (s_ema / s_last) if s_ema and s_last else None,
               "evals": [{k: e[k] for k in ("step", "accuracy", "ema")} for e in st.evals]}
        out["seeds"].append(rec)
        print(f"seed {seed}: last {rec['last_iterate']:.3f} EMA {rec['ema']:.3f} SWA {rec['swa']:.3f} "
              f"(its last iterate {rec['swa_last_iterate']:.3f}); EMA steps-to-target ratio {rec['ema_steps_ratio']}", flush=True)
    med = lambda k: statistics.median([r[k] for r in out["seeds"] if r[k] is not None] or [float("nan")])
    out["summary"] = {"ema_over_last_accuracy": med("ema") / med("last_iterate"),
                      "swa_over_last_accuracy": med("swa") / med("last_iterate"),
                      "swa_over_own_last_iterate": med("swa") / med("swa_last_iterate"),
                      "ema_steps_to_target_ratio": med("ema_steps_ratio")}
    out["provenance"] = provenance(" ".join(["python"] + sys.argv))
    path = Path(__file__).resolve().parent / "results" / "optim_averaging.json"
    path.write_text(json.dumps(out, indent=1))
    print(json.dumps(out["summary"]), "->", path)


if __name__ == "__main__":
    main()
