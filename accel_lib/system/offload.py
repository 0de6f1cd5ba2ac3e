"""Offloading: keep saved activations, or the optimizer state and its update, in host (CPU)
memory instead of accelerator memory, and copy them over only when needed.

Speeds up: memory on the accelerator (a larger model or batch fits), paid for with copies over
PCIe (about 25 GB/s per direction on PCIe 4.0, versus several TB/s of GPU memory bandwidth), and for
optimizer offload with a slower CPU update.
Paper: Ren et al., "ZeRO-Offload: Democratizing Billion-Scale Model Training", USENIX ATC 2021.
Reference: torch.autograd.graph.save_on_cpu (tests/system/test_offload.py::test_matches_save_on_cpu).
Caveats: on a machine without a GPU the "device" already is host memory: the code runs and is
exact, but there is nothing to save; the page measures only the copy cost here. The copies must
overlap compute (pinned memory, ``non_blocking``) or they add their full time to every step.
Book: book/system/memory.ipynb
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterable, Iterator

import torch
from torch import nn

__all__ = ["offload_activations", "CPUOffloadOptimizer"]


@contextmanager
def offload_activations(device: torch.device | str = "cpu", pin_memory: bool = False,
                        stats: dict | None = None) -> Iterator[None]:
    """Within this context every tensor autograd saves for backward is moved to ``device`` at
    pack time and back to its own device at unpack time (from scratch, with
    ``saved_tensors_hooks``). ``stats``, if given, accumulates ``packed_bytes``.

    Parameters are left where they are (they already live on the device for the whole step)."""
    device = torch.device(device)
    if pin_memory and not torch.cuda.is_available():
        raise ValueError("pin_memory=True needs CUDA (page-locked host memory is for GPU copies).")

    def pack(t: torch.Tensor):
        base = t._base if t._base is not None else t   # weight.t() is a view of a parameter
        if isinstance(base, nn.Parameter) or (base.is_leaf and base.requires_grad):
            return (None, t)
        host = torch.empty(t.size(), dtype=t.dtype, layout=t.layout, device=device,
                           pin_memory=pin_memory and t.device.type == "cuda")
        host.copy_(t, non_blocking=pin_memory)
        if stats is not None:
            stats["packed_bytes"] = stats.get("packed_bytes", 0) + t.numel() * t.element_size()
        return (t.device, host)

    def unpack(packed):
        dev, t = packed
        return t if dev is None else t.to(dev, non_blocking=pin_memory)

    with torch.autograd.graph.saved_tensors_hooks(pack, unpack):
        yield


class CPUOffloadOptimizer:
    """Keep fp32 copies of the parameters and the optimizer state in host memory and run the update
    there (ZeRO-Offload's split): gradients go down to the host, updated parameters come back.

    Args:
        params: the model's parameters (on any device).
        make_optimizer: ``host params -> torch.optim.Optimizer``.
    """

    def __init__(self, params: Iterable[nn.Parameter], make_optimizer: Callable[[list], torch.optim.Optimizer],
                 host: torch.device | str = "cpu") -> None:
        self.params = [p for p in params if p.requires_grad]
        if not self.params:
            raise ValueError("no trainable parameters were given.")
        self.host = torch.device(host)
        self.host_params = [p.detach().to(self.host, torch.float32, copy=True).requires_grad_(True)
                            for p in self.params]
        self.optimizer = make_optimizer(self.host_params)
        self.bytes_down = 0
        self.bytes_up = 0

    @property
    def param_groups(self) -> list:
        return self.optimizer.param_groups

    @property
    def state(self):
        return self.optimizer.state

    @torch.no_grad()
    def step(self, closure=None):
        if closure is not None:
            raise ValueError("CPUOffloadOptimizer does not take a closure.")
        for p, h in zip(self.params, self.host_params):
            if p.grad is None:
                h.grad = None
                continue
            h.grad = p.grad.to(self.host, torch.float32, copy=True)       # device -> host
            self.bytes_down += p.grad.numel() * p.grad.element_size()
        self.optimizer.step()
        for p, h in zip(self.params, self.host_params):
            p.copy_(h.to(p.device, p.dtype))                                # host -> device
            self.bytes_up += p.numel() * p.element_size()

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            p.grad = None
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict:
        return {"optimizer": self.optimizer.state_dict(), "host_params": [h.detach().clone() for h in self.host_params]}

    def load_state_dict(self, state: dict) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        with torch.no_grad():
            for p, h, s in zip(self.params, self.host_params, state["host_params"]):
                h.copy_(s)
                p.copy_(s.to(p.device, p.dtype))
