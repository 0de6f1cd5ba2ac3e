"""Record the book's baseline curves: test accuracy (or validation loss) against training time.

    python benchmarks/baselines.py                # CPU-sized: a few epochs, several minutes
    python benchmarks/baselines.py --full         # to the targets (hours on a 2-core CPU)
    python benchmarks/baselines.py --only fastcnn --epochs 5 --max-minutes 20

Writes benchmarks/results/baselines.json: per run, the evaluation records (step, epoch, seconds of
training, metric), throughput, time to 80% / 90% test accuracy (null when not reached within the
recorded budget), the recipe's settings and provenance (device, versions, date, command).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dataclasses import dataclass  # noqa: E402

from accel_lib.core import (Budget, Technique, char_gpt, cifar_fastcnn, cifar_resnet18, load_cifar10,  # noqa: E402
                            load_tinyshakespeare, provenance, run_recipe, set_threads, time_to_target)

OUT = ROOT / "benchmarks" / "results" / "baselines.json"


@dataclass
class WallClockLimit(Technique):
    """Stops the run after ``deadline`` (time.time()), checked after every step, then evaluates."""
    deadline: float = 0.0

    def after_step(self, state):
        if time.time() > self.deadline:
            state.stop = True


def run_cifar(name, make, data, epochs, max_minutes, evals_per_epoch, seed, n_eval=None):
    recipe = make(data, epochs=epochs, seed=seed, n_eval=n_eval)
    steps_per_epoch = len(recipe.loader)
    recipe = recipe.with_(budget=Budget(min(epochs * steps_per_epoch, 10**9), "steps"))
    deadline = time.time() + 60 * max_minutes
    t0 = time.time()
    st = run_recipe(recipe, eval_every=max(1, steps_per_epoch // evals_per_epoch), seed=seed,
                    techniques=[WallClockLimit(deadline)])
    wall = time.time() - t0
    ev = [{k: e[k] for k in ("step", "epoch", "seconds", "accuracy", "loss")} for e in st.evals]
    return {"name": name, "recipe": recipe.name, "planned_epochs": epochs, "seed": seed,
            "test_images": n_eval or len(data.test_y),
            "stopped_by_time_limit": st.counters.epoch < epochs - 1e-9, "epochs_done": st.counters.epoch,
            "images_per_second": st.counters.samples / st.counters.seconds, "wall_seconds": wall,
            "time_to_80": time_to_target(st.evals, "accuracy", 0.80),
            "time_to_90": time_to_target(st.evals, "accuracy", 0.90),
            "final_accuracy": st.evals[-1]["accuracy"], "evals": ev}


def run_char(data, steps, max_minutes, seed):
    recipe = char_gpt(data, steps=steps, seed=seed)
    deadline = time.time() + 60 * max_minutes
    st = run_recipe(recipe, eval_every=max(1, steps // 20), seed=seed, techniques=[WallClockLimit(deadline)])
    ev = [{k: e[k] for k in ("step", "seconds", "val_loss")} for e in st.evals]
    return {"name": "char_gpt", "recipe": recipe.name, "planned_steps": steps, "seed": seed,
            "steps_done": st.counters.step, "tokens_per_second": st.counters.samples * 128 / st.counters.seconds,
            "final_val_loss": st.evals[-1]["val_loss"], "evals": ev}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", action="store_true", help="train to the targets (hours on a CPU)")
    ap.add_argument("--only", choices=["resnet18", "fastcnn", "char"], action="append")
    ap.add_argument("--epochs", type=float, default=None)
    ap.add_argument("--max-minutes", type=float, default=None, help="per run")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None)
    a = ap.parse_args()
    set_threads(a.threads)
    which = a.only or ["fastcnn", "resnet18", "char"]
    max_min = a.max_minutes or (600 if a.full else 10)
    results = json.loads(OUT.read_text()) if OUT.exists() else {"runs": {}}
    if "fastcnn" in which or "resnet18" in which:
        data = load_cifar10()
    if "fastcnn" in which:
        results["runs"]["fastcnn"] = run_cifar("fastcnn", cifar_fastcnn, data, a.epochs or (20 if a.full else 3),
                                               max_min, 1, a.seed)
    if "resnet18" in which:  # evaluated on 2,000 test images: a full pass costs ~11 TFLOP on a CPU
        results["runs"]["resnet18"] = run_cifar("resnet18", cifar_resnet18, data, a.epochs or (30 if a.full else 1),
                                                max_min, 1, a.seed, n_eval=None if a.full else 2000)
    if "char" in which:
        results["runs"]["char_gpt"] = run_char(load_tinyshakespeare(), 4000 if a.full else 600, max_min, a.seed)
    results["provenance"] = provenance("python " + " ".join(sys.argv))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=1))
    for k, r in results["runs"].items():
        print(k, {x: r[x] for x in r if x != "evals"})


if __name__ == "__main__":
    torch.manual_seed(0)
    main()
