"""Finding the bottleneck with ``torch.profiler``: label the phases of a training step (data,
forward, backward, optimizer), record a few steps, export a Chrome/Perfetto trace and summarise
where the time went.

Speeds up: nothing by itself; it tells you which of the other techniques to apply (a data-bound
step wants workers, prefetching or echoing; a step dominated by many small operators wants
compilation or foreach/fused updates; a matmul-bound step wants mixed precision on a GPU).
Paper: none.
Reference: ``torch.profiler.profile`` and ``record_function`` are the implementation;
tests/system/test_profiling.py checks that the phases are found and the trace is valid JSON.
Caveats: profiling adds overhead (do not time with it on); the first steps include warm-up
(the schedule skips them); on a GPU, CPU-side times are launch times: read the CUDA columns.
Book: book/system/input_pipeline.ipynb
"""
from __future__ import annotations

import json
import os
from typing import Callable, Iterator, Optional

import torch
from torch import nn

__all__ = ["PHASES", "batches", "labelled_step", "profile_steps", "phase_times", "top_ops", "trace_summary"]

PHASES = ("data", "forward", "backward", "optimizer")


def labelled_step(model: nn.Module, next_batch: Callable[[], tuple], optimizer: torch.optim.Optimizer,
                  loss_fn: Callable = torch.nn.functional.cross_entropy) -> Callable[[], None]:
    """A training step whose phases are labelled with ``record_function`` (names in :data:`PHASES`).
    ``next_batch()`` returns ``(x, y)`` or a :class:`~accel_lib.core.Batch`; the data phase
    includes producing it (so a slow loader shows up there)."""
    from torch.profiler import record_function

    def step() -> None:
        with record_function("data"):
            b = next_batch()             # (x, y) or a Batch
            x, y = b[0], b[1]
        with record_function("forward"):
            loss = loss_fn(model(x), y)
        with record_function("backward"):
            loss.backward()
        with record_function("optimizer"):
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
    return step


def profile_steps(step: Callable[[], None], steps: int = 3, warmup: int = 1,
                  trace_path: Optional[str | os.PathLike] = None) -> "torch.profiler.profile":
    """Profile ``steps`` calls of ``step`` after ``warmup`` unrecorded ones; export a Chrome trace
    (open it in https://ui.perfetto.dev) to ``trace_path`` if given. Returns the profiler."""
    from torch.profiler import ProfilerActivity, profile
    if steps < 1 or warmup < 0:
        raise ValueError("need steps >= 1 and warmup >= 0.")
    for _ in range(warmup):
        step()
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if torch.cuda.is_available() else [])
    with profile(activities=acts) as prof:
        for _ in range(steps):
            step()
    if trace_path is not None:
        prof.export_chrome_trace(str(trace_path))
    return prof


def phase_times(prof: "torch.profiler.profile", phases: tuple = PHASES) -> dict:
    """Total CPU time (seconds) spent in each labelled phase, and each phase's share."""
    tot = {p: 0.0 for p in phases}
    for e in prof.key_averages():
        if e.key in tot:
            tot[e.key] += e.cpu_time_total / 1e6
    s = sum(tot.values()) or 1.0
    return {p: {"seconds": tot[p], "share": tot[p] / s} for p in phases}


def top_ops(prof: "torch.profiler.profile", n: int = 8) -> list:
    """The ``n`` ATen operators with the most self CPU time: ``[(name, seconds, calls), ...]``."""
    rows = [(e.key, e.self_cpu_time_total / 1e6, e.count) for e in prof.key_averages()
            if e.key.startswith("aten::")]
    return sorted(rows, key=lambda r: -r[1])[:n]


def trace_summary(path: str | os.PathLike, phases: tuple = PHASES) -> dict:
    """Read an exported Chrome trace and sum the durations of the labelled phases (seconds) and
    count its events: the same numbers a trace viewer shows, computed from the file."""
    with open(path) as f:
        trace = json.load(f)
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    out = {p: 0.0 for p in phases}
    for ev in events:
        if ev.get("ph") == "X" and ev.get("name") in out:
            out[ev["name"]] += ev.get("dur", 0) / 1e6
    return {"events": len(events), "phases": out}


def batches(loader) -> Iterator:
    """An endless iterator over ``loader`` (restarts it at the end of each epoch)."""
    while True:
        yield from loader
