"""Parallelism planner: predicted memory per device and step time for DP, ZeRO-1/2/3, tensor and pipeline parallelism.

Speeds up: the choice of a layout: before renting N devices, predict which strategies fit in
memory and roughly how long a step takes, from the model size, device count, memory, link
bandwidth and FLOP rate.
Paper: Rajbhandari et al., "ZeRO", SC 2020 (the 2/2/K bytes-per-parameter accounting);
Korthikanti et al., "Reducing Activation Recomputation in Large Transformer Models", MLSys 2023
(activation bytes of a transformer layer); Narayanan et al., SC 2021 (pipeline bubble).
Reference: none (a model, not an implementation); its memory predictions are checked against the
bytes measured per rank by ``zero.check_zero`` and ``tensor_parallel.check_tensor_parallel``
(tests/system/distributed/test_planner.py::test_memory_matches_measured_bytes).
Caveats: first-order model: communication is alpha-beta ring collectives on one link type, with
no contention; compute splits perfectly; DP's all-reduce overlaps with the backward pass only
if ``overlap``; activations of tensor parallelism are kept whole (no sequence parallelism);
fragmentation, buffers and framework overheads are ignored. Use it to rank layouts, then measure.
Book: book/distributed/sharding.ipynb
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Optional

from .collectives import alpha_beta_time

__all__ = ["Hardware", "Workload", "STRATEGIES", "memory_per_device", "step_time", "plan", "plot_plan",
           "planner_widget", "transformer_activation_bytes"]

STRATEGIES = ("dp", "zero1", "zero2", "zero3", "tp", "pp")


def transformer_activation_bytes(layers: int, hidden: int, seq: int, batch: int, heads: int,
                                 bytes_per_value: int = 2, flash: bool = True) -> float:
    """Activation bytes a transformer keeps for backward: ``layers * s * b * h * (34 + 5 a s / h)``
    for 16-bit values (Korthikanti et al., 2023, no recomputation); scaled for other sizes. With
    ``flash=True`` the ``5 a s / h`` term (the stored attention matrices) is dropped, as fused
    attention kernels recompute them instead of storing them."""
    per = 34 + (0 if flash else 5 * heads * seq / hidden)
    return layers * seq * batch * hidden * per * bytes_per_value / 2


@dataclass
class Hardware:
    """Devices and their link: ``flops`` per device (FLOP/s actually reached, not the data-sheet
    peak), ``memory`` per device (bytes), ``bandwidth`` per link (bytes/s), ``latency`` (s/message)."""

    n_devices: int = 8
    memory: float = 80e9
    bandwidth: float = 100e9
    latency: float = 10e-6
    flops: float = 300e12


@dataclass
class Workload:
    """What one optimizer step does. ``n_params`` weights; bytes per parameter for weights,
    gradients and optimizer state (fp32 Adam: 4, 4, 8; mixed precision Adam: 2, 2, 12);
    ``activation_bytes`` for the whole global batch on one device; ``flops_per_step`` for the
    whole batch (6 x params x tokens for a transformer); for TP and PP: the layer count, the bytes
    of one layer's activations at a boundary for the global batch (``boundary_bytes``) and the
    micro-batches ``micro_batches``."""

    n_params: float = 1e9
    weight_bytes: float = 4
    grad_bytes: float = 4
    optim_bytes: float = 8
    activation_bytes: float = 0.0
    flops_per_step: float = 0.0
    layers: int = 24
    boundary_bytes: float = 0.0
    micro_batches: int = 8
    extras: dict = field(default_factory=dict)


def memory_per_device(strategy: str, w: Workload, n: int) -> dict:
    """Predicted bytes per device: ``{"params", "grads", "optim", "activations", "total"}``.

    dp: everything replicated; zero1: optimizer state / N; zero2: + gradients / N; zero3: +
    weights / N; tp (degree N): weights, gradients and state / N, activations kept whole; pp
    (N stages, 1F1B): weights, gradients and state / N, activations of its layers for at most
    min(N, m) of the m micro-batches.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}.")
    if n < 1:
        raise ValueError("n must be >= 1.")
    p = w.n_params
    wb, gb, ob = p * w.weight_bytes, p * w.grad_bytes, p * w.optim_bytes
    act = w.activation_bytes
    if strategy == "dp":
        d = dict(params=wb, grads=gb, optim=ob, activations=act / n)
    elif strategy == "zero1":
        d = dict(params=wb, grads=gb, optim=ob / n, activations=act / n)
    elif strategy == "zero2":
        d = dict(params=wb, grads=gb / n, optim=ob / n, activations=act / n)
    elif strategy == "zero3":
        d = dict(params=wb / n, grads=gb / n, optim=ob / n, activations=act / n)
    elif strategy == "tp":
        d = dict(params=wb / n, grads=gb / n, optim=ob / n, activations=act)
    else:  # pp with 1F1B
        m = max(1, w.micro_batches)
        d = dict(params=wb / n, grads=gb / n, optim=ob / n, activations=act / n * min(n, m) / m)
    d["total"] = sum(d.values())
    return d


def step_time(strategy: str, w: Workload, hw: Hardware, overlap: bool = True) -> dict:
    """Predicted seconds per step: ``{"compute", "comm", "bubble", "total"}`` (comm is the exposed
    part). Compute is ``flops_per_step / (N * flops)`` for every layout."""
    n = hw.n_devices
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}.")
    alpha, beta = hw.latency, 1.0 / hw.bandwidth
    compute = w.flops_per_step / (n * hw.flops) if w.flops_per_step else 0.0
    gbytes = w.n_params * w.grad_bytes
    wbytes = w.n_params * w.weight_bytes
    bubble = 0.0
    if strategy in ("dp", "zero1", "zero2"):
        # all-reduce, or reduce-scatter + all-gather: the same ring volume
        comm = alpha_beta_time("all_reduce", gbytes, n, alpha, beta)
    elif strategy == "zero3":
        comm = (2 * alpha_beta_time("all_gather", wbytes, n, alpha, beta)
                + alpha_beta_time("reduce_scatter", gbytes, n, alpha, beta))
    elif strategy == "tp":
        comm = 4 * w.layers * alpha_beta_time("all_reduce", w.boundary_bytes, n, alpha, beta)
    else:
        m = max(1, w.micro_batches)
        comm = 2 * m * alpha_beta_time("p2p", w.boundary_bytes / m, n, alpha, beta) if n > 1 else 0.0
        bubble = compute * (n - 1) / m  # (p-1)/(m+p-1) of the total = (p-1)/m of the compute
    if n == 1:
        comm = 0.0
    if overlap and strategy in ("dp", "zero1", "zero2", "zero3"):
        comm = max(0.0, comm - 2 / 3 * compute)  # hidden behind the backward pass (2/3 of the FLOPs)
    return {"compute": compute, "comm": comm, "bubble": bubble, "total": compute + comm + bubble}


def plan(w: Workload, hw: Hardware, overlap: bool = True) -> list:
    """One row per strategy: memory, step time and whether it fits in ``hw.memory``."""
    rows = []
    for s in STRATEGIES:
        mem = memory_per_device(s, w, hw.n_devices)
        t = step_time(s, w, hw, overlap)
        rows.append({"strategy": s, **{f"mem_{k}": v for k, v in mem.items()},
                     **{f"time_{k}": v for k, v in t.items()}, "fits": mem["total"] <= hw.memory})
    return rows


def plot_plan(rows: list, hw: Optional[Hardware] = None, ax=None):
    """Two bar charts: stacked memory per device (with the device's memory) and step time."""
    import matplotlib.pyplot as plt
    if ax is None:
        fig, ax = plt.subplots(1, 2, figsize=(10, 3.6))
    names = [r["strategy"] for r in rows]
    bottom = [0.0] * len(rows)
    for k, c in (("params", "C0"), ("grads", "C1"), ("optim", "C2"), ("activations", "C3")):
        vals = [r[f"mem_{k}"] / 1e9 for r in rows]
        ax[0].bar(names, vals, bottom=bottom, label=k, color=c)
        bottom = [b + v for b, v in zip(bottom, vals)]
    if hw is not None:
        ax[0].axhline(hw.memory / 1e9, color="k", ls="--", lw=1, label="device memory")
    ax[0].set_ylabel("GB per device")
    ax[0].legend(fontsize=8)
    bottom = [0.0] * len(rows)
    for k, c in (("compute", "C0"), ("comm", "C1"), ("bubble", "C7")):
        vals = [r[f"time_{k}"] * 1e3 for r in rows]
        ax[1].bar(names, vals, bottom=bottom, label=k, color=c)
        bottom = [b + v for b, v in zip(bottom, vals)]
    ax[1].set_ylabel("ms per step")
    ax[1].legend(fontsize=8)
    return ax


def planner_widget(w: Optional[Workload] = None, hw: Optional[Hardware] = None):
    """An ipywidgets explorer over :func:`plan`: sliders for parameters (billions), devices, memory,
    bandwidth, FLOP/s and micro-batches; redraws :func:`plot_plan`."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    w = w or Workload()
    hw = hw or Hardware()
    sl = dict(
        params_b=widgets.FloatLogSlider(value=w.n_params / 1e9, base=10, min=-2, max=3, description="params (B)"),
        devices=widgets.IntSlider(value=hw.n_devices, min=1, max=64, description="devices"),
        memory_gb=widgets.FloatSlider(value=hw.memory / 1e9, min=8, max=192, step=8, description="memory GB"),
        bandwidth_gbs=widgets.FloatLogSlider(value=hw.bandwidth / 1e9, base=10, min=0, max=3, description="link GB/s"),
        tflops=widgets.FloatLogSlider(value=hw.flops / 1e12, base=10, min=0, max=3, description="TFLOP/s"),
        micro=widgets.IntSlider(value=w.micro_batches, min=1, max=64, description="micro-batches"))

    def draw(params_b, devices, memory_gb, bandwidth_gbs, tflops, micro):
        scale = params_b * 1e9 / w.n_params
        ww = Workload(**{**asdict(w), "n_params": params_b * 1e9, "flops_per_step": w.flops_per_step * scale,
                         "micro_batches": micro})
        h = Hardware(n_devices=devices, memory=memory_gb * 1e9, bandwidth=bandwidth_gbs * 1e9,
                     latency=hw.latency, flops=tflops * 1e12)
        plot_plan(plan(ww, h), h)
        plt.show()
    return widgets.interactive(draw, **sl)
