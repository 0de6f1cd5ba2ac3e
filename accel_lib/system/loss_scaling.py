"""Dynamic loss scaling: multiply the loss by a large factor so that small fp16 gradients do not
flush to zero, skip the step when the scaled gradients overflow, and adapt the factor.

Speeds up: makes fp16 training (2-8x faster matmuls on tensor-core GPUs, half the activation
bytes) converge like fp32, by keeping gradients inside fp16's narrow range (6e-8 to 65504).
Paper: Micikevicius et al., "Mixed Precision Training", ICLR 2018.
Reference: torch.amp.GradScaler (tests/system/test_loss_scaling.py::test_same_decisions_as_gradscaler).
Caveats: needed only for fp16; bf16 has fp32's exponent range and trains without it. A skipped
step costs a full forward and backward; with the default growth interval (2000 steps) about one
step in 2000 is skipped in steady state. Gradients must be fp32 when unscaled (use fp32 master
weights, :mod:`accel_lib.system.master_weights`).
Book: book/system/precision.ipynb

The rule, per optimizer step with scale ``S`` and growth tracker ``k``:

* backward runs on ``S * loss``; ``unscale_`` multiplies every gradient by ``1/S`` and records
  whether any gradient holds an inf or a NaN;
* ``step`` calls ``optimizer.step()`` only when none did (otherwise the update is skipped);
* ``update``: after an overflow ``S <- S * backoff`` and ``k <- 0``; otherwise ``k <- k + 1`` and,
  once ``k`` reaches ``growth_interval``, ``S <- S * growth`` (if finite) and ``k <- 0``.

:class:`DynamicLossScaler` has the same methods and ``state_dict`` keys as
``torch.amp.GradScaler``, so either can be passed as ``scaler=`` to :func:`accel_lib.core.train`.
"""
from __future__ import annotations

import math
from typing import Any, Iterable

import torch

__all__ = ["DynamicLossScaler", "grads_finite"]


def grads_finite(params: Iterable[torch.Tensor]) -> bool:
    """True when every existing ``.grad`` of ``params`` is finite (no inf, no NaN)."""
    for p in params:
        if p.grad is not None and not bool(torch.isfinite(p.grad).all()):
            return False
    return True


class DynamicLossScaler:
    """From-scratch dynamic loss scaler with ``torch.amp.GradScaler``'s interface and decisions.

    Args:
        init_scale: the first scale (GradScaler's default 2**16).
        growth_factor: multiply the scale by this after ``growth_interval`` clean steps (> 1).
        backoff_factor: multiply the scale by this after an overflow (in (0, 1)).
        growth_interval: clean steps between growths (>= 1).
        enabled: ``False`` makes every method a pass-through (scale 1, never skips).

    Attributes ``skipped`` and ``steps`` count skipped and attempted optimizer steps.
    """

    def __init__(self, init_scale: float = 2.0 ** 16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000, enabled: bool = True) -> None:
        if not init_scale > 0 or not math.isfinite(init_scale):
            raise ValueError(f"init_scale must be a positive finite number, got {init_scale!r}.")
        if not growth_factor > 1.0:
            raise ValueError(f"growth_factor must be > 1 (the scale grows after clean steps), got {growth_factor!r}.")
        if not 0.0 < backoff_factor < 1.0:
            raise ValueError(f"backoff_factor must be in (0, 1) (the scale shrinks on overflow), got {backoff_factor!r}.")
        if int(growth_interval) != growth_interval or growth_interval < 1:
            raise ValueError(f"growth_interval must be a positive integer, got {growth_interval!r}.")
        self.enabled = enabled
        self._scale = float(init_scale)
        self.growth_factor, self.backoff_factor = float(growth_factor), float(backoff_factor)
        self.growth_interval = int(growth_interval)
        self._tracker = 0
        self._found_inf: dict = {}   # id(optimizer) -> bool, for optimizers unscaled this step
        self._stepped: set = set()
        self.skipped = 0
        self.steps = 0

    # --- the four methods the training loop calls -------------------------------------------
    def get_scale(self) -> float:
        return self._scale if self.enabled else 1.0

    def is_enabled(self) -> bool:
        return self.enabled

    def scale(self, outputs: Any) -> Any:
        """``outputs * S`` (a tensor, or a list/tuple of tensors)."""
        if not self.enabled:
            return outputs
        if isinstance(outputs, torch.Tensor):
            return outputs * torch.tensor(self._scale, dtype=torch.float32, device=outputs.device)
        if isinstance(outputs, (list, tuple)):
            return type(outputs)(self.scale(o) for o in outputs)
        raise TypeError(f"scale() takes a tensor or a list/tuple of tensors, got {type(outputs).__name__}.")

    def unscale_(self, optimizer: torch.optim.Optimizer) -> None:
        """Divide the gradients of ``optimizer``'s parameters by ``S`` in place and record whether
        any is inf/NaN. Call at most once per optimizer per step (e.g. before gradient clipping)."""
        if not self.enabled:
            return
        key = id(optimizer)
        if key in self._found_inf:
            raise RuntimeError("unscale_() was already called on this optimizer since the last "
                               "update(); call it once per step.")
        # GradScaler computes 1/S in double and rounds it to fp32; do the same for equal results.
        inv = torch.tensor(1.0 / self._scale, dtype=torch.float64).float()
        found = False
        for group in optimizer.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.dtype == torch.float16:
                    raise ValueError("gradients are float16: unscaling them in fp16 would overflow or "
                                     "underflow again. Keep fp32 master weights (accel_lib.system."
                                     "master_weights.MasterWeightOptimizer) or autocast an fp32 model.")
                if p.grad.is_sparse:
                    raise ValueError("sparse gradients are not supported; use dense parameters.")
                finite = bool(torch.isfinite(p.grad).all())
                found = found or not finite
                p.grad.mul_(inv.to(p.grad.device, p.grad.dtype))
        self._found_inf[key] = found

    def step(self, optimizer: torch.optim.Optimizer, *args: Any, **kwargs: Any) -> Any:
        """``optimizer.step()`` unless the unscaled gradients held an inf/NaN (then skip)."""
        if not self.enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("closures are not supported with loss scaling; compute the loss outside.")
        key = id(optimizer)
        if key in self._stepped:
            raise RuntimeError("step() was already called on this optimizer since the last update().")
        if key not in self._found_inf:
            self.unscale_(optimizer)
        self._stepped.add(key)
        self.steps += 1
        if self._found_inf[key]:
            self.skipped += 1
            return None
        return optimizer.step(*args, **kwargs)

    def update(self, new_scale: float | None = None) -> None:
        """Adapt the scale after the step: back off on overflow, grow after a clean interval."""
        if not self.enabled:
            return
        if new_scale is not None:
            self._scale = float(new_scale)
        else:
            if not self._found_inf:
                raise RuntimeError("update() found no unscale_()/step() since the last update(); call "
                                   "scaler.step(optimizer) first.")
            if any(self._found_inf.values()):
                self._scale *= self.backoff_factor
                self._tracker = 0
            else:
                self._tracker += 1
                if self._tracker == self.growth_interval:
                    grown = self._scale * self.growth_factor
                    if math.isfinite(float(torch.tensor(grown, dtype=torch.float32))):
                        self._scale = grown
                    self._tracker = 0
        # GradScaler keeps the scale as an fp32 tensor: round like it does.
        self._scale = float(torch.tensor(self._scale, dtype=torch.float32))
        self._found_inf.clear()
        self._stepped.clear()

    @property
    def found_inf(self) -> bool:
        """Whether the last unscaled gradients held an inf/NaN (before ``update`` clears it)."""
        return any(self._found_inf.values())

    # --- checkpoints (same keys as torch.amp.GradScaler) --------------------------------------
    def state_dict(self) -> dict:
        if not self.enabled:
            return {}
        return {"scale": self._scale, "growth_factor": self.growth_factor,
                "backoff_factor": self.backoff_factor, "growth_interval": self.growth_interval,
                "_growth_tracker": self._tracker}

    def load_state_dict(self, state: dict) -> None:
        if not self.enabled:
            return
        if not state:
            raise RuntimeError("the state dict is empty: it came from a disabled scaler.")
        self._scale = float(state["scale"])
        self.growth_factor = float(state["growth_factor"])
        self.backoff_factor = float(state["backoff_factor"])
        self.growth_interval = int(state["growth_interval"])
        self._tracker = int(state["_growth_tracker"])

    def __repr__(self) -> str:
        return (f"DynamicLossScaler(scale={self.get_scale():g}, tracker={self._tracker}/"
                f"{self.growth_interval}, skipped={self.skipped}/{self.steps})")
