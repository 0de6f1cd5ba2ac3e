"""The capstone speedruns: time-to-target of the stacked recipe, its ablation and interactions.

    python benchmarks/speedrun.py cifar --seeds 0 1 2          # full recipe, 9.9 epochs per seed
    python benchmarks/speedrun.py cifar --without tta           # one ablation arm at full size
    python benchmarks/speedrun.py baseline-throughput           # ResNet-18 vs recipe images/s
    python benchmarks/speedrun.py study                         # ladder, ablation, sweep, interactions (short)
    python benchmarks/speedrun.py study --part pairs            # one part (parts can run in parallel)
    python benchmarks/speedrun.py char                          # Tiny Shakespeare speedrun vs baseline

Results are merged into benchmarks/results/speedrun.json (one record per run, keyed by what ran),
each with provenance (device, versions, date, command). The speedrun recipe trains for a fixed
budget chosen so that it reaches the target at the end (its LR anneals to the end), so its
time-to-target is its training time when the final accuracy reaches the target, and "not
reached" otherwise; evaluation time is excluded, as everywhere in the book.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from accel_lib.core import load_cifar10, load_tinyshakespeare, provenance, run_recipe, set_threads  # noqa: E402
from accel_lib.recipes.speedrun import cifar_speedrun  # noqa: E402
from accel_lib.recipes.study import summarize_runs  # noqa: E402

OUT = Path(os.environ.get("ACCEL_SPEEDRUN_RESULTS", ROOT / "benchmarks" / "results" / "speedrun.json"))


def _load() -> dict:
    return json.loads(OUT.read_text()) if OUT.exists() else {"runs": {}}


def _update(change) -> dict:
    """Re-read the results file, apply ``change(results)`` and write it back atomically, under an
    exclusive lock, so that several benchmark processes can record into one file."""
    import fcntl
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with open(OUT.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        results = _load()
        change(results)
        tmp = OUT.with_suffix(".tmp")
        tmp.write_text(json.dumps(results, indent=1))
        os.replace(tmp, OUT)
    return results


def _load_avg() -> list:
    try:
        return [float(v) for v in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return []


def cifar(args) -> None:
    data = load_cifar10()
    for seed in args.seeds:
        recipe = cifar_speedrun(data, epochs=args.epochs, seed=seed, without=tuple(args.without))
        t0, load0 = time.time(), _load_avg()
        st = run_recipe(recipe, seed=seed)
        final = st.evals[-1]
        rec = {"kind": "cifar", "recipe": recipe.name, "without": args.without, "epochs": args.epochs,
               "seed": seed, "bf16": "autocast" in recipe.train_kwargs,
               "train_seconds": st.counters.seconds, "wall_seconds": time.time() - t0,
               "images_per_second": st.counters.samples / st.counters.seconds,
               "accuracy_tta": final["accuracy"], "accuracy_plain": final["accuracy_plain"],
               "target": args.target, "reached": final["accuracy"] >= args.target,
               "time_to_target": st.counters.seconds if final["accuracy"] >= args.target else None,
               "load_before": load0, "load_after": _load_avg(),
               "provenance": provenance("python " + " ".join(sys.argv))}
        # CPU fp32 keys as first recorded; CPU runs in bf16 (CPUs with native bf16) and GPU runs apart
        dev = "cuda/" if torch.cuda.is_available() else ("bf16/" if rec["bf16"] else "")
        key = f"cifar/{dev}{args.epochs}ep/" + ("-".join(sorted(args.without)) or "full") + f"/seed{seed}"
        results = _update(lambda res: res.setdefault("runs", {}).__setitem__(key, rec))
        print(key, {k: v for k, v in rec.items() if k != "provenance"}, flush=True)
    summarize(_load(), args.target)


def summarize(results: dict, target: float = 0.90) -> dict:
    out = summarize_runs(results["runs"], target)
    for g, v in out.items():
        print(g, v)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("cifar", help="the full CIFAR-10 recipe, one run per seed")
    c.add_argument("--seeds", type=int, nargs="+", default=[0])
    c.add_argument("--epochs", type=float, default=9.9)
    c.add_argument("--without", nargs="*", default=[])
    c.add_argument("--target", type=float, default=0.90)
    for name in ("baseline-throughput", "study", "char"):
        s = sub.add_parser(name)
        s.add_argument("--quick", action="store_true", help="a CI-sized run")
        if name == "study":
            s.add_argument("--part", choices=["ladder", "ablation", "sweep", "pairs", "matrix"], action="append",
                           help="run only these parts (default: all, in order); parts may run in parallel "
                                "processes, then 'matrix' combines ablation and pairs")
    ap.add_argument("--threads", type=int, default=None)
    a = ap.parse_args()
    set_threads(a.threads)
    if a.cmd == "cifar":
        cifar(a)
    else:
        from accel_lib.recipes import study
        kw = {"parts": a.part} if a.cmd == "study" else {}
        {"baseline-throughput": study.record_baseline_throughput, "study": study.record_study,
         "char": study.record_char}[a.cmd](_update, quick=a.quick, **kw)


if __name__ == "__main__":
    main()
