"""Record the book's baseline curves: test accuracy (or validation loss) against training time.

    python benchmarks/baselines.py                # CPU-sized: a few epochs, several minutes
    python benchmarks/baselines.py --full         # to the targets (hours on a 2-core CPU)
    python benchmarks/baselines.py --only fastcnn --epochs 5 --max-minutes 20
    python benchmarks/baselines.py --only resnet18 --full --target 0.90 --channels-last \
        --checkpoint ~/.cache/accel_lib/runs/resnet18-seed0.pt --max-minutes 150   # one segment

A run longer than a session is recorded in segments: with ``--checkpoint`` the run resumes exactly
from the file (model, optimizer, counters, evaluations, random states) and rewrites it atomically
four times per epoch; training seconds accumulate across segments, and each segment's machine,
load and throughput are kept in the result (``segments``), because segments may run on different
machines of the same kind. The checkpoint must survive between sessions: it lives outside the
repository (about 90 MB for ResNet-18), so on a machine that is not kept between sessions the chain
breaks and the run starts again from zero.

On a GPU (picked by itself; ``ACCEL_DEVICE=cpu`` forces the CPU) the same runs take minutes, and
are kept under their own key (``resnet18/cuda``), apart from the CPU runs. The *number of epochs* a
recipe needs to reach a target does not depend on the machine (the arithmetic is the same up to
the order of floating-point sums: TF32 is switched off for these runs), so a GPU run gives the
epochs-to-target that the speedrun page prices with this CPU's measured images/s.

Writes benchmarks/results/baselines.json: per run, the evaluation records (step, epoch, seconds of
training, metric), throughput, time to 80% / 90% test accuracy (null when not reached within the
recorded budget), the recipe's settings and provenance (device, versions, date, command).
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

from dataclasses import dataclass  # noqa: E402

from accel_lib.core import (Budget, Technique, char_gpt, cifar_fastcnn, cifar_resnet18, load_cifar10,  # noqa: E402
                            default_device, fingerprint, load_tinyshakespeare, provenance, run_recipe, set_threads,
                            time_to_target)
from accel_lib.model.channels_last import ChannelsLast  # noqa: E402

OUT = Path(os.environ.get("ACCEL_BASELINES_RESULTS", ROOT / "benchmarks" / "results" / "baselines.json"))


def _loadavg() -> list:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:  # pragma: no cover - not on every platform
        return []


@dataclass
class SegmentLog(Technique):
    """Keeps, inside the checkpoint, one record per segment of a resumed run: where it started and
    ended (steps, training seconds), its machine and the load average at both ends."""

    def __post_init__(self):
        self.segments = []

    def on_start(self, state):
        c = state.counters
        fp = fingerprint()
        self.segments.append({"date": provenance()["date"], "cpu": fp["cpu"], "threads": fp["threads"],
                              "torch": fp["torch"], "start_step": c.step, "start_seconds": c.seconds,
                              "start_samples": c.samples, "loadavg_start": _loadavg()})
        self.after_step(state)

    def after_step(self, state):
        c = state.counters
        seg = self.segments[-1]
        seg.update(end_step=c.step, end_seconds=c.seconds, end_samples=c.samples)
        span = c.seconds - seg["start_seconds"]
        seg["images_per_second"] = (c.samples - seg["start_samples"]) / span if span > 0 else None

    def on_end(self, state):
        self.after_step(state)
        self.segments[-1]["loadavg_end"] = _loadavg()

    def state_dict(self):
        return {"segments": json.dumps(self.segments)}

    def load_state_dict(self, state):
        self.segments = json.loads(state["segments"])


@dataclass
class WallClockLimit(Technique):
    """Stops the run after ``deadline`` (time.time()), checked after every step, then evaluates."""
    deadline: float = 0.0

    def after_step(self, state):
        if time.time() > self.deadline:
            state.stop = True


def run_cifar(name, make, data, epochs, max_minutes, evals_per_epoch, seed, n_eval=None, checkpoint=None,
              target=None, channels_last=False):
    recipe = make(data, epochs=epochs, seed=seed, n_eval=n_eval)
    steps_per_epoch = len(recipe.loader)
    recipe = recipe.with_(budget=Budget(min(epochs * steps_per_epoch, 10**9), "steps"))
    deadline = time.time() + 60 * max_minutes
    log = SegmentLog()
    techniques = [WallClockLimit(deadline), log] + ([ChannelsLast()] if channels_last else [])
    extra = {}
    if checkpoint:
        extra = {"checkpoint": checkpoint, "checkpoint_every": max(1, steps_per_epoch // 4)}
        print(("resuming from " if Path(checkpoint).exists() else "new run; checkpoints to ") + checkpoint)
    t0 = time.time()
    st = run_recipe(recipe, eval_every=max(1, steps_per_epoch // evals_per_epoch), seed=seed,
                    target=target, techniques=techniques, **extra)
    wall = time.time() - t0
    ev = [{k: e[k] for k in ("step", "epoch", "seconds", "accuracy", "loss")} for e in st.evals]
    reached = target is not None and ev and ev[-1]["accuracy"] >= target
    return {"name": name, "recipe": recipe.name, "planned_epochs": epochs, "seed": seed,
            "channels_last": channels_last, "stopped_at_target": bool(reached), "segments": log.segments,
            "device": str(st.device), "finished": bool(reached) or st.counters.epoch >= epochs - 1e-9,
            "test_images": n_eval or len(data.test_y),
            "stopped_by_time_limit": st.counters.epoch < epochs - 1e-9 and not reached, "epochs_done": st.counters.epoch,
            "images_per_second": st.counters.samples / st.counters.seconds, "wall_seconds_last_segment": wall,
            "time_to_80_epochs": time_to_target(st.evals, "accuracy", 0.80, clock="epoch"),
            "time_to_90_epochs": time_to_target(st.evals, "accuracy", 0.90, clock="epoch"),
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
    ap.add_argument("--checkpoint", default=None, help="resume from / checkpoint to this file (CIFAR runs)")
    ap.add_argument("--target", type=float, default=None, help="stop when test accuracy reaches this")
    ap.add_argument("--channels-last", action="store_true", help="train in channels-last memory format")
    a = ap.parse_args()
    set_threads(a.threads)
    which = a.only or ["fastcnn", "resnet18", "char"]
    dev = default_device()
    suffix = "" if dev.type == "cpu" else "/" + dev.type  # GPU runs are kept apart from the CPU runs
    if dev.type == "cuda":  # fp32 arithmetic as on the CPU, so that epochs-to-target carry over
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    max_min = a.max_minutes or (600 if a.full else 10)
    results = {"runs": {}}
    if "fastcnn" in which or "resnet18" in which:
        data = load_cifar10()
    if "fastcnn" in which:
        results["runs"]["fastcnn" + suffix] = run_cifar("fastcnn", cifar_fastcnn, data, a.epochs or (20 if a.full else 3),
                                               max_min, 1, a.seed, checkpoint=a.checkpoint, target=a.target,
                                               channels_last=a.channels_last)
    if "resnet18" in which:  # evaluated on 2,000 test images: a full pass costs ~11 TFLOP on a CPU
        results["runs"]["resnet18" + suffix] = run_cifar("resnet18", cifar_resnet18, data, a.epochs or (30 if a.full else 1),
                                                max_min, 1, a.seed, n_eval=None if a.full else 2000,
                                                checkpoint=a.checkpoint, target=a.target,
                                                channels_last=a.channels_last)
    if "char" in which:
        results["runs"]["char_gpt" + suffix] = run_char(load_tinyshakespeare(), 4000 if a.full else 600, max_min, a.seed)
    new = results["runs"]
    results = json.loads(OUT.read_text()) if OUT.exists() else {"runs": {}}  # re-read: runs take hours
    results["runs"].update(new)
    for r in new.values():
        r["provenance"] = provenance("python " + " ".join(sys.argv))
    results["provenance"] = provenance("python " + " ".join(sys.argv))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=1))
    for k, r in results["runs"].items():
        print(k, {x: r[x] for x in r if x != "evals"})


if __name__ == "__main__":
    torch.manual_seed(0)
    main()
