"""Measurement: timing with a protocol, throughput, FLOPs, memory, MFU, time-to-target and an
environment fingerprint that every page prints.

Rules the book follows (and these helpers enforce): warm up before timing; synchronise the device
before reading the clock; repeat and report the median with its spread; compare a technique with
its baseline *in the same run*, as a ratio.
"""
from __future__ import annotations

import datetime as _dt
import os
import platform
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

import torch
from torch import nn

from .devices import synchronize

__all__ = ["Timing", "time_fn", "compare", "throughput", "count_flops", "count_train_flops",
           "saved_activation_bytes", "cuda_peak_memory", "tensor_bytes", "peak_flops", "mfu",
           "fingerprint", "format_fingerprint", "provenance", "print_provenance", "measured_matmul_peak", "time_to_target", "cpu_model"]


@dataclass
class Timing:
    """Repeated wall-clock measurements of one function, in seconds."""

    times: list = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def spread(self) -> tuple:
        """(min, max) of the repeats."""
        return (min(self.times), max(self.times))

    @property
    def iqr(self) -> float:
        if len(self.times) < 4:
            return max(self.times) - min(self.times)
        q = statistics.quantiles(self.times, n=4)
        return q[2] - q[0]

    def __str__(self) -> str:
        lo, hi = self.spread
        return f"{self.median * 1e3:.2f} ms (min {lo * 1e3:.2f}, max {hi * 1e3:.2f}, n={len(self.times)})"


def time_fn(fn: Callable[[], Any], *, warmup: int = 2, repeats: int = 5,
            device: Optional[torch.device | str] = None, clock: Callable[[], float] = time.perf_counter) -> Timing:
    """Time ``fn()``: ``warmup`` untimed calls, then ``repeats`` timed calls, each bracketed by a
    device synchronisation."""
    if repeats < 1 or warmup < 0:
        raise ValueError("need repeats >= 1 and warmup >= 0.")
    for _ in range(warmup):
        fn()
    synchronize(device)
    t = Timing()
    for _ in range(repeats):
        t0 = clock()
        fn()
        synchronize(device)
        t.times.append(clock() - t0)
    return t


def compare(fns: dict, **kw: Any) -> dict:
    """Time several functions *interleaved* (A, B, A, B, ...) so that machine noise hits them
    alike; returns ``{name: Timing}``. The first entry is the baseline for ratios."""
    repeats = kw.pop("repeats", 5)
    warmup = kw.pop("warmup", 1)
    device = kw.pop("device", None)
    out = {k: Timing() for k in fns}
    for f in fns.values():
        for _ in range(warmup):
            f()
    for _ in range(repeats):
        for k, f in fns.items():
            r = time_fn(f, warmup=0, repeats=1, device=device)
            out[k].times.extend(r.times)
    return out


def throughput(fn: Callable[[], Any], items_per_call: int, **kw: Any) -> float:
    """Items per second of ``fn`` (median of repeats)."""
    return items_per_call / time_fn(fn, **kw).median


def count_flops(fn: Callable[[], Any]) -> int:
    """Total FLOPs of the operations ``fn()`` runs, counted by ``torch.utils.flop_counter``
    (matrix multiplies and convolutions; elementwise ops count 0)."""
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False) as fc:
        fn()
    return int(fc.get_total_flops())


def count_train_flops(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                      loss_fn: Optional[Callable] = None) -> int:
    """FLOPs of one forward and backward pass of ``model`` on a batch (gradients are left set)."""
    from .loop import default_loss
    loss_fn = loss_fn or default_loss

    def step() -> None:
        loss_fn(model(x), y).mean().backward()
    return count_flops(step)


def tensor_bytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


def saved_activation_bytes(fn: Callable[[], Any]) -> dict:
    """Exact bytes autograd saves for backward while ``fn()`` runs a forward pass.

    Every tensor saved for backward passes through ``saved_tensors_hooks``; unique storages are
    counted once (views of one buffer share it). Parameters are reported separately, since they
    exist whether or not the forward pass runs. Returns ``{"activations": bytes, "parameters":
    bytes, "tensors": count}``; works on any device, exact on CPU where peak RSS is useless.
    """
    seen: dict = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        st = t.untyped_storage()
        key = (st.data_ptr(), t.device)
        if key not in seen:
            base = t._base if t._base is not None else t  # a transposed weight is a view of a leaf
            seen[key] = (st.nbytes(), base.is_leaf and base.requires_grad)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    del out
    act = sum(b for b, is_param in seen.values() if not is_param)
    par = sum(b for b, is_param in seen.values() if is_param)
    return {"activations": act, "parameters": par, "tensors": len(seen)}


def cuda_peak_memory(fn: Callable[[], Any], device: Optional[torch.device | str] = None) -> int:
    """Peak CUDA memory allocated (bytes) while ``fn()`` runs, above what was allocated before."""
    if not torch.cuda.is_available():
        raise RuntimeError("cuda_peak_memory needs a CUDA device; on CPU use saved_activation_bytes.")
    torch.cuda.synchronize(device)
    base = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    fn()
    torch.cuda.synchronize(device)
    return torch.cuda.max_memory_allocated(device) - base


# Dense peak FLOP/s from vendors' data sheets (no sparsity). Keys are matched as substrings of the
# device name. CPU peaks depend on the part: measured_matmul_peak() gives an honest local figure.
_PEAKS = {
    "H200": {"bf16": 989e12, "fp16": 989e12, "fp32": 67e12},
    "H100": {"bf16": 989e12, "fp16": 989e12, "fp32": 67e12},
    "A100": {"bf16": 312e12, "fp16": 312e12, "fp32": 19.5e12},
    "L4": {"bf16": 121e12, "fp16": 121e12, "fp32": 30.3e12},
    "A10G": {"bf16": 125e12, "fp16": 125e12, "fp32": 31.2e12},
    "T4": {"fp16": 65e12, "fp32": 8.1e12},
    "V100": {"fp16": 125e12, "fp32": 15.7e12},
}


def measured_matmul_peak(n: int = 1024, dtype: torch.dtype = torch.float32,
                         device: Optional[torch.device | str] = None) -> float:
    """FLOP/s of a large square matmul on this device: a practical peak where no data sheet applies."""
    device = torch.device(device) if device is not None else torch.device("cpu")
    a = torch.randn(n, n, device=device, dtype=dtype)
    t = time_fn(lambda: a @ a, warmup=1, repeats=3, device=device)
    return 2 * n ** 3 / t.median


def peak_flops(device: Optional[torch.device | str] = None, dtype: str = "fp32") -> tuple:
    """``(peak FLOP/s, source)`` for the device: a data-sheet value for known GPUs, else a measured
    matmul peak."""
    device = torch.device(device) if device is not None else torch.device("cpu")
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        for key, table in _PEAKS.items():
            if key in name and dtype in table:
                return table[dtype], f"data sheet ({key}, {dtype})"
    dt = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[dtype]
    return measured_matmul_peak(dtype=dt, device=device), "measured matmul peak"


def mfu(flops_per_step: float, seconds_per_step: float, peak: float) -> float:
    """Model FLOPs utilisation: achieved FLOP/s divided by the peak."""
    if seconds_per_step <= 0 or peak <= 0:
        raise ValueError("seconds_per_step and peak must be positive.")
    return flops_per_step / seconds_per_step / peak


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def fingerprint() -> dict:
    """Device, CPU/GPU model, threads, versions: enough to say what a measurement ran on."""
    from .. import __version__
    from .devices import default_device
    dev = default_device()
    d = {"device": str(dev), "cpu": cpu_model(), "cores": os.cpu_count(), "threads": torch.get_num_threads(),
         "torch": torch.__version__, "accel_lib": __version__, "python": platform.python_version()}
    if dev.type == "cuda":
        d["gpu"] = torch.cuda.get_device_name(dev)
        d["gpu_count"] = torch.cuda.device_count()
    return d


def format_fingerprint(d: Optional[dict] = None) -> str:
    d = d or fingerprint()
    gpu = f", GPU {d['gpu']} x{d['gpu_count']}" if "gpu" in d else ""
    return (f"device {d['device']}{gpu} | CPU {d['cpu']} ({d['cores']} cores, {d['threads']} torch threads)"
            f" | torch {d['torch']} | accel_lib {d['accel_lib']} | Python {d['python']}")


def provenance(command: Optional[str] = None) -> dict:
    """The fingerprint plus the date and the process CPU time, for recorded results and footers."""
    d = fingerprint()
    d["date"] = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    d["cpu_seconds"] = round(time.process_time(), 1)
    if command:
        d["command"] = command
    return d


def time_to_target(evals: Sequence[dict], metric: str, target: float, higher_is_better: bool = True,
                   clock: str = "seconds") -> Optional[float]:
    """The first ``clock`` value (seconds, step, epoch, samples, flops) at which ``metric`` reached
    ``target`` in a list of evaluation records (``TrainState.evals``); ``None`` if never."""
    for e in evals:
        v = e[metric]
        if (v >= target) if higher_is_better else (v <= target):
            return e[clock]
    return None


def print_provenance(command: Optional[str] = None) -> None:
    """The footer every page ends with: execution date, versions, device and CPU time."""
    d = provenance(command)
    gpu = f" ({d['gpu']})" if "gpu" in d else ""
    print(f"Executed {d['date']} on {d['device']}{gpu}, CPU {d['cpu']} | accel_lib {d['accel_lib']}"
          f" | torch {d['torch']} | process CPU time {d['cpu_seconds']} s")
