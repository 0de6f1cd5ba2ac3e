"""Where training memory goes: parameters, gradients, optimizer state and saved activations, by
precision mode and batch size, predicted by a small model and checked against measured bytes.

Speeds up: nothing by itself; it says which memory technique pays: optimizer state dominates
small-batch training of large models (sharding, 8-bit states, offload), activations dominate
large batches and deep models (checkpointing, mixed precision).
Paper: Rajbhandari et al., "ZeRO: Memory Optimizations Toward Training Trillion Parameter
Models", SC 2020 (the 2 + 2 + 12 bytes per parameter accounting of mixed-precision Adam).
Reference: none (measured instead: tests/system/test_memory_model.py::test_prediction_within_10_percent).
Caveats: activations are the bytes autograd *saves* for backward (exact, counted with
``saved_tensors_hooks``); the transient peak inside one layer's backward, allocator caching and
framework workspaces come on top. The activation model is linear in the batch size, fitted on two
exact measurements; it does not extrapolate to other input shapes (sequence length, resolution).
Book: book/system/memory.ipynb

Per parameter (``N`` parameters, ``k`` optimizer state tensors: 0 for SGD, 1 for momentum, 2 for
Adam/AdamW):

=================  ==========  =========  =====================================
mode               parameters  gradients  optimizer state
=================  ==========  =========  =====================================
``fp32``           4N          4N         4kN
``bf16_autocast``  4N          4N         4kN   (only activations shrink)
``fp16_autocast``  4N          4N         4kN
``fp16_master``    2N          4N         4kN + 4N (the fp32 master copy)
=================  ==========  =========  =====================================
"""
from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from typing import Callable, Optional

import torch
from torch import nn

from accel_lib.core import saved_activation_bytes

__all__ = ["MODES", "OPTIMIZER_STATES", "ActivationModel", "fit_activation_model", "predict_memory",
           "measure_memory", "mode_context", "prepare_model"]

MODES = ("fp32", "bf16_autocast", "fp16_autocast", "fp16_master")
OPTIMIZER_STATES = {"sgd": 0, "momentum": 1, "adam": 2, "adamw": 2}


def _check(mode: str, optimizer: str) -> None:
    if mode not in MODES:
        raise ValueError(f"unknown precision mode {mode!r}; use one of {', '.join(MODES)}.")
    if optimizer not in OPTIMIZER_STATES:
        raise ValueError(f"unknown optimizer {optimizer!r}; use one of {', '.join(OPTIMIZER_STATES)}.")


def mode_context(mode: str) -> Callable:
    """The context a forward pass runs under in ``mode`` (autocast on the CPU, or nothing)."""
    _check(mode, "sgd")
    if mode == "bf16_autocast":
        return lambda: torch.autocast("cpu", dtype=torch.bfloat16)
    if mode == "fp16_autocast":
        return lambda: torch.autocast("cpu", dtype=torch.float16)
    return nullcontext


def prepare_model(model: nn.Module, mode: str) -> nn.Module:
    """The model as it trains in ``mode`` (``fp16_master``: cast to fp16 with boundary casts)."""
    _check(mode, "sgd")
    if mode == "fp16_master":
        from .master_weights import apply_half_precision
        return apply_half_precision(model, "fp16")
    return model


@dataclass
class ActivationModel:
    """Saved-activation bytes ``per_sample * batch + constant`` for one model, input and mode."""

    per_sample: float
    constant: float
    mode: str

    def __call__(self, batch_size: int) -> float:
        return self.per_sample * batch_size + self.constant


def _saved_bytes(model: nn.Module, make_input: Callable[[int], torch.Tensor], b: int, mode: str) -> int:
    ctx = mode_context(mode)
    x = make_input(b)

    def fwd() -> torch.Tensor:
        with ctx():
            return model(x)
    return saved_activation_bytes(fwd)["activations"]


def fit_activation_model(model: nn.Module, make_input: Callable[[int], torch.Tensor], mode: str = "fp32",
                         batches: tuple = (2, 4)) -> ActivationModel:
    """Measure saved-activation bytes exactly at two batch sizes and fit a line through them.

    ``model`` must already be in ``mode``'s form (:func:`prepare_model`) and in training mode;
    ``make_input(b)`` returns a batch of ``b`` inputs."""
    _check(mode, "sgd")
    b1, b2 = batches
    if not 0 < b1 < b2:
        raise ValueError("batches must be two increasing positive batch sizes.")
    m1, m2 = _saved_bytes(model, make_input, b1, mode), _saved_bytes(model, make_input, b2, mode)
    slope = (m2 - m1) / (b2 - b1)
    return ActivationModel(slope, m1 - slope * b1, mode)


def predict_memory(n_params: int, batch_size: int, mode: str = "fp32", optimizer: str = "adamw",
                   activations: Optional[ActivationModel] = None) -> dict:
    """Predicted bytes of each component of training memory (see the table in the module doc).

    ``activations`` (from :func:`fit_activation_model` in the same mode) gives the activation
    term; without it activations are reported as 0."""
    _check(mode, optimizer)
    if n_params < 0 or batch_size < 1:
        raise ValueError("need n_params >= 0 and batch_size >= 1.")
    if activations is not None and activations.mode != mode:
        raise ValueError(f"the activation model was fitted in mode {activations.mode!r}, not {mode!r}.")
    k = OPTIMIZER_STATES[optimizer]
    p_bytes = 2 if mode == "fp16_master" else 4
    opt = 4 * k * n_params + (4 * n_params if mode == "fp16_master" else 0)
    out = {"parameters": p_bytes * n_params, "gradients": 4 * n_params, "optimizer_state": opt,
           "activations": int(round(activations(batch_size))) if activations is not None else 0}
    out["total"] = sum(out.values())
    return out


def _opt_factory(optimizer: str) -> Callable:
    return {"sgd": lambda p: torch.optim.SGD(p, lr=1e-3),
            "momentum": lambda p: torch.optim.SGD(p, lr=1e-3, momentum=0.9),
            "adam": lambda p: torch.optim.Adam(p, lr=1e-3),
            "adamw": lambda p: torch.optim.AdamW(p, lr=1e-3)}[optimizer]


def measure_memory(model: nn.Module, x: torch.Tensor, y: torch.Tensor, mode: str = "fp32",
                   optimizer: str = "adamw", loss_fn: Optional[Callable] = None) -> dict:
    """Run one real training step of ``model`` (already in ``mode``'s form) and count the bytes of
    each component: parameter storages, gradients at the step, optimizer state tensors (and master
    copies) after it, and saved activations of the forward pass."""
    from accel_lib.core import default_loss
    from .master_weights import MasterWeightOptimizer
    _check(mode, optimizer)
    loss_fn = loss_fn or default_loss
    make = _opt_factory(optimizer)
    opt = MasterWeightOptimizer(model.parameters(), make) if mode == "fp16_master" else make(model.parameters())
    ctx = mode_context(mode)
    box = {}

    def fwd() -> torch.Tensor:
        with ctx():
            box["loss"] = loss_fn(model(x), y).mean()
        return box["loss"]
    act = saved_activation_bytes(fwd)["activations"]
    box["loss"].backward()
    tensors_bytes = lambda ts: sum(t.numel() * t.element_size() for t in ts)  # noqa: E731
    grads = [p.grad for g in opt.param_groups for p in g["params"] if p.grad is not None]
    out = {"parameters": tensors_bytes(model.parameters()), "gradients": tensors_bytes(grads)}
    opt.step()
    state = [v for s in opt.state.values() for v in s.values() if isinstance(v, torch.Tensor) and v.dim() > 0]
    master = opt.master if isinstance(opt, MasterWeightOptimizer) else []
    out["optimizer_state"] = tensors_bytes(state) + tensors_bytes(master)
    out["activations"] = act
    out["total"] = sum(out.values())
    if isinstance(opt, MasterWeightOptimizer):
        opt.remove_hooks()
    return out
