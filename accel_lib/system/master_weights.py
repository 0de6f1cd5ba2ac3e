"""fp16 (or bf16) weights for compute, fp32 master weights for the update: mixed precision from
scratch.

Speeds up: memory and wall-clock on GPUs with fast half-precision units: the model, its
activations and its gradients are half the bytes, while the update stays accurate because small
steps are added to an fp32 copy (in fp16, ``1 + 1e-4 == 1``: the update would be lost).
Paper: Micikevicius et al., "Mixed Precision Training", ICLR 2018.
Reference: ``torch.autocast`` + ``torch.amp.GradScaler`` is the production path (the model stays
fp32 and casts per op); tests/system/test_master_weights.py checks that the from-scratch path
tracks the fp32 loss and uses the same scaler decisions.
Caveats: parameters exist twice (half + fp32 master), so parameter memory grows by half; the
win is in activations. Normalisation statistics in fp16 can lose precision. On CPUs without
half-precision arithmetic it is slow.
Book: book/system/precision.ipynb

How it works: :func:`apply_half_precision` casts the model to the low-precision dtype and wraps it
so that inputs are cast down and outputs back to fp32 (the loss is computed in fp32).
:class:`MasterWeightOptimizer` keeps an fp32 copy of every parameter; a post-accumulate-grad hook
moves each half-precision gradient into the fp32 copy's ``.grad`` as soon as backward produces it;
the wrapped optimizer updates the fp32 copies, which are then copied (rounded) into the model.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Iterable

import torch
from torch import nn

from accel_lib.core import Stage, Technique

from .mixed_precision import resolve_dtype

__all__ = ["HalfPrecisionModel", "apply_half_precision", "MasterWeightOptimizer", "with_master_weights",
           "HalfPrecision"]


class HalfPrecisionModel(nn.Module):
    """``module`` in a low-precision dtype: floating inputs are cast to it, outputs back to fp32."""

    def __init__(self, module: nn.Module, dtype: torch.dtype) -> None:
        super().__init__()
        self.module = module.to(dtype)
        self.dtype = dtype

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_floating_point(x):
            x = x.to(self.dtype)
        out = self.module(x)
        return out.float() if torch.is_floating_point(out) else out


def apply_half_precision(model: nn.Module, dtype: str | torch.dtype = "fp16") -> nn.Module:
    """Cast ``model`` to ``dtype`` (``"fp16"`` or ``"bf16"``) with casting at its boundary."""
    return HalfPrecisionModel(model, resolve_dtype(dtype))


class MasterWeightOptimizer:
    """An optimizer that keeps fp32 master copies of low-precision parameters.

    Args:
        params: the model's (half-precision) parameters.
        make_optimizer: ``fp32 params -> torch.optim.Optimizer`` (e.g. ``lambda p: SGD(p, lr=0.1)``).

    ``param_groups`` and ``state`` are those of the inner optimizer (fp32 master parameters with
    fp32 gradients), so ``torch.amp.GradScaler`` and
    :class:`~accel_lib.system.loss_scaling.DynamicLossScaler` unscale and check them directly.
    """

    def __init__(self, params: Iterable[nn.Parameter], make_optimizer: Callable[[list], torch.optim.Optimizer]) -> None:
        self.model_params = [p for p in params if p.requires_grad]
        if not self.model_params:
            raise ValueError("no trainable parameters were given.")
        self.master = [p.detach().clone().float().requires_grad_(True) for p in self.model_params]
        self.optimizer = make_optimizer(self.master)
        self._hooks = [p.register_post_accumulate_grad_hook(self._mover(m))
                       for p, m in zip(self.model_params, self.master)]

    @staticmethod
    def _mover(master: torch.Tensor) -> Callable[[torch.Tensor], None]:
        def hook(p: torch.Tensor) -> None:
            g = p.grad.float()           # fp16/bf16 -> fp32 (an inf stays inf: the scaler sees it)
            master.grad = g if master.grad is None else master.grad + g
            p.grad = None                # the half-precision gradient is freed at once
        return hook

    @property
    def param_groups(self) -> list:
        return self.optimizer.param_groups

    @property
    def state(self) -> Any:
        return self.optimizer.state

    @property
    def defaults(self) -> dict:
        return self.optimizer.defaults

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        if closure is not None:
            raise ValueError("MasterWeightOptimizer does not take a closure.")
        out = self.optimizer.step()
        for p, m in zip(self.model_params, self.master):
            p.copy_(m)  # round the updated fp32 master into the half-precision model
        return out

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none=set_to_none)
        for p in self.model_params:
            p.grad = None

    def state_dict(self) -> dict:
        return {"optimizer": self.optimizer.state_dict(), "master": [m.detach().clone() for m in self.master]}

    def load_state_dict(self, state: dict) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        with torch.no_grad():
            for p, m, saved in zip(self.model_params, self.master, state["master"]):
                m.copy_(saved)
                p.copy_(saved)

    def remove_hooks(self) -> None:
        for h in self._hooks:
            h.remove()
        self._hooks = []


def with_master_weights(make_optimizer: Callable[[list], torch.optim.Optimizer]) -> Callable:
    """Turn an optimizer factory into one that keeps fp32 master weights, for ``train(optimizer=)``."""
    return lambda params: MasterWeightOptimizer(params, make_optimizer)


@dataclass
class HalfPrecision(Technique):
    """Train in ``dtype`` (model cast at :attr:`Stage.LAYOUT`). Pair it with
    ``optimizer=with_master_weights(...)`` and, for fp16, ``scaler=DynamicLossScaler()``."""

    stage: ClassVar[Stage] = Stage.LAYOUT
    dtype: str = "fp16"

    def setup_model(self, model: nn.Module, state: Any) -> nn.Module:
        return apply_half_precision(model, self.dtype)
