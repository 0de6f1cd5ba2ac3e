"""The baseline benchmark records runs longer than a session in segments: a run stopped by its
time limit and resumed from its checkpoint ends where an uninterrupted run ends, and keeps one
segment record per process."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import torch

from accel_lib.core import cifar_fastcnn
from accel_lib.core.datasets import ImageData

ROOT = Path(__file__).resolve().parents[2]


def _bench():
    spec = importlib.util.spec_from_file_location("bench_baselines", ROOT / "benchmarks" / "baselines.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_baselines"] = mod  # dataclasses look their module up while the file executes
    spec.loader.exec_module(mod)
    return mod


def _tiny_images() -> ImageData:
    # a test fixture, not a dataset: 128 train / 64 test random images, enough to drive the loop
    g = torch.Generator().manual_seed(0)
    return ImageData(torch.randint(0, 256, (128, 3, 32, 32), dtype=torch.uint8, generator=g),
                     torch.randint(0, 10, (128,), generator=g),
                     torch.randint(0, 256, (64, 3, 32, 32), dtype=torch.uint8, generator=g),
                     torch.randint(0, 10, (64,), generator=g), tuple(str(i) for i in range(10)), "fixture")


def make(data, epochs, seed, n_eval=None):
    return cifar_fastcnn(data, epochs=epochs, batch_size=16, widths=(8, 8, 8), seed=seed, n_eval=n_eval)


def test_a_run_stopped_by_its_time_limit_resumes_to_the_same_end(tmp_path):
    bench, data = _bench(), _tiny_images()
    whole = bench.run_cifar("fast", make, data, 2, 60, 1, 0)
    ck = str(tmp_path / "run.pt")
    first = bench.run_cifar("fast", make, data, 2, 0.0, 1, 0, checkpoint=ck)  # limit 0: stops after step 1
    assert first["stopped_by_time_limit"] and not first["finished"] and first["evals"][-1]["step"] == 1
    second = bench.run_cifar("fast", make, data, 2, 60, 1, 0, checkpoint=ck)
    assert second["finished"] and not second["stopped_by_time_limit"]
    assert second["device"] == whole["device"] == "cpu"
    assert [s["start_step"] for s in second["segments"]] == [0, 1]
    assert second["segments"][0]["end_step"] == 1 and second["segments"][1]["end_step"] == 16
    assert second["epochs_done"] == whole["epochs_done"] == 2
    # the evaluation at the stop point is kept; the per-epoch evaluations match the uninterrupted run
    per_epoch = [e for e in second["evals"] if e["step"] % 8 == 0]
    assert [e["step"] for e in per_epoch] == [e["step"] for e in whole["evals"]] == [8, 16]
    for a, b in zip(per_epoch, whole["evals"]):
        assert abs(a["loss"] - b["loss"]) < 1e-4 and a["accuracy"] == b["accuracy"]
