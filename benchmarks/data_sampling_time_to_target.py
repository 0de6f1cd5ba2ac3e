"""Time-to-target benchmark of the data samplers on real CIFAR-10: baseline, Selective-Backprop,
loss-based importance sampling and InfoBatch, each trained for the same passes over the data,
evaluated after every pass; wall-clock to reach a target test accuracy.

The target is derived from the run itself: ``--target-frac`` (default 0.95) times the baseline's
best accuracy, so every variant is compared on the same bar without a number typed by hand.

Usage: python benchmarks/data_sampling_time_to_target.py [--full] [--seeds N]
Writes benchmarks/results/data_sampling_time_to_target.json.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from accel_lib.core import (Budget, FastCNN, ImageLoader, default_device, evaluate_classifier, format_fingerprint,
                            load_cifar10, provenance, seed_everything, time_to_target, train)
from accel_lib.data import ImportanceSampling, InfoBatch, SelectiveBackprop


def run_variant(name: str, data, widths, bs: int, epochs: int, seed: int, device) -> dict:
    seed_everything(seed)
    model = FastCNN(widths)
    techniques, loader = [], None
    if name == "selective_backprop":
        techniques = [SelectiveBackprop(fraction=0.5)]
    elif name == "importance_sampling":
        techniques = [ImportanceSampling(fraction=0.5)]
    elif name == "infobatch":
        ib = InfoBatch(epochs=epochs, prune_ratio=0.5, anneal=0.125)
        techniques = [ib]
        loader = ib.loader(data.train_x, data.train_y, bs, crop_pad=2, flip=True, seed=seed, device=device)
    loader = loader or ImageLoader(data.train_x, data.train_y, bs, crop_pad=2, flip=True, seed=seed, device=device)
    passes = len(loader)
    budget = Budget(epochs, "epochs") if name == "infobatch" else Budget(epochs * passes, "steps")
    eval_every = max(1, passes // 4)  # four evaluations per full pass (pruned passes are shorter)
    st = train(model, loader, budget=budget, techniques=techniques, device=device, log_every=0,
               optimizer=lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4),
               lr_schedule=lambda t: 1.0 - t, eval_every=eval_every,
               evaluate=lambda m: evaluate_classifier(m, data.test_x, data.test_y))
    return {"evals": [{k: e[k] for k in ("step", "samples", "seconds", "accuracy")} for e in st.evals],
            "final_accuracy": st.evals[-1]["accuracy"], "seconds": st.counters.seconds,
            "samples_backpropagated": st.counters.samples}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", action="store_true", help="full CIFAR-10, airbench-sized net, 16 epochs (GPU)")
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--target-frac", type=float, default=0.95)
    a = ap.parse_args()
    dev = default_device()
    if a.full:
        n_train, n_test, widths, bs, epochs = 50_000, 10_000, (64, 256, 256), 512, 16
    else:
        n_train, n_test, widths, bs, epochs = 2048, 1000, (16, 32, 64), 64, 4
    data = load_cifar10().subset(n_train if n_train < 50_000 else None, n_test if n_test < 10_000 else None, seed=0)
    print(format_fingerprint())
    names = ["baseline", "selective_backprop", "importance_sampling", "infobatch"]
    runs: dict = {n: [] for n in names}
    for seed in range(a.seeds):
        for n in names:  # interleaved: every variant of a seed before the next seed
            r = run_variant(n, data, widths, bs, epochs, seed, dev)
            runs[n].append(r)
            print(f"seed {seed} {n:>20}: final accuracy {r['final_accuracy']:.3f}, {r['seconds']:.1f} s", flush=True)
    summary = {}
    for seed in range(a.seeds):
        base = runs["baseline"][seed]
        target = a.target_frac * max(e["accuracy"] for e in base["evals"])
        t_base = time_to_target(base["evals"], "accuracy", target)
        for n in names:
            r = runs[n][seed]
            t = time_to_target(r["evals"], "accuracy", target)
            s = summary.setdefault(n, {"time_to_target_ratio": [], "final_accuracy_ratio": [], "time_ratio": [],
                                       "backprop_ratio": [], "target": []})
            s["time_to_target_ratio"].append(None if t is None else t / t_base)
            s["final_accuracy_ratio"].append(r["final_accuracy"] / base["final_accuracy"])
            s["time_ratio"].append(r["seconds"] / base["seconds"])
            s["backprop_ratio"].append(r["samples_backpropagated"] / base["samples_backpropagated"])
            s["target"].append(target)
    print(f"\n{n_train} train / {n_test} test images, FastCNN{widths}, {epochs} passes, target = "
          f"{a.target_frac} x baseline best accuracy, {dev}")
    print(f"{'variant':>20} {'time-to-target':>15} {'total time':>11} {'final acc':>10} {'backprop':>9}")
    for n, s in summary.items():
        ttt = ", ".join("not reached" if v is None else f"{v:.2f}" for v in s["time_to_target_ratio"])
        print(f"{n:>20} {ttt:>15} {sum(s['time_ratio']) / len(s['time_ratio']):11.2f} "
              f"{sum(s['final_accuracy_ratio']) / a.seeds:10.2f} {sum(s['backprop_ratio']) / a.seeds:9.2f}")
    out = {"settings": {"n_train": n_train, "n_test": n_test, "widths": widths, "batch_size": bs, "passes": epochs,
                        "seeds": a.seeds, "target_frac": a.target_frac},
           "summary": summary, "runs": runs, "provenance": provenance(" ".join(["python"] + sys.argv))}
    path = Path(__file__).resolve().parent / "results" / "data_sampling_time_to_target.json"
    path.write_text(json.dumps(out, indent=1))
    print("wrote", path)


if __name__ == "__main__":
    main()
