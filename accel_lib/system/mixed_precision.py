"""Mixed precision with ``torch.autocast``: run matmuls and convolutions in bf16 or fp16 while the
weights, the optimizer and precision-sensitive ops (reductions, losses) stay in fp32.

Speeds up: wall-clock and memory on hardware with bf16/fp16 units (GPU tensor cores; CPUs with
AVX512-BF16 or AMX): low-precision matmuls run several times faster and saved activations take
half the bytes. :func:`native_bf16` tells whether a device has bf16 arithmetic.
Paper: Micikevicius et al., "Mixed Precision Training", ICLR 2018; Kalamkar et al., "A Study of
BFLOAT16 for Deep Learning Training", 2019.
Reference: torch.autocast itself is the production path; the from-scratch path is fp16 weights
with fp32 master weights (:mod:`accel_lib.system.master_weights`) and loss scaling
(:mod:`accel_lib.system.loss_scaling`); tests/system/test_mixed_precision.py checks that bf16 and
fp16 training track fp32 losses.
Caveats: on CPUs without bf16/fp16 arithmetic (AVX2 only) autocast is *much slower* than fp32:
every low-precision op converts to fp32 and back in software. CPUs with AVX512-BF16 (e.g. AMD
Zen 4/5) or AMX have bf16 dot products, and there bf16 autocast speeds training up; fp16 stays
slow on both kinds. fp16 needs
loss scaling; bf16 does not. Autocast does not shrink parameters or optimizer state (still fp32).
Book: book/system/precision.ipynb
"""
from __future__ import annotations

from contextlib import nullcontext
from typing import Callable, ContextManager, Optional

import torch
from torch import nn

__all__ = ["LOW_PRECISION", "resolve_dtype", "autocast", "native_bf16", "module_output_dtypes", "bytes_by_dtype"]

LOW_PRECISION = {"bf16": torch.bfloat16, "bfloat16": torch.bfloat16, "fp16": torch.float16,
                 "float16": torch.float16, "half": torch.float16}


def resolve_dtype(dtype: str | torch.dtype) -> torch.dtype:
    """``"bf16"``/``"fp16"`` (or the torch dtypes) to a torch dtype; anything else is refused with
    a message (``torch.autocast`` itself only warns and silently runs in fp32)."""
    if isinstance(dtype, torch.dtype):
        if dtype in (torch.bfloat16, torch.float16):
            return dtype
    elif isinstance(dtype, str) and dtype.lower() in LOW_PRECISION:
        return LOW_PRECISION[dtype.lower()]
    raise ValueError(f"unsupported autocast dtype {dtype!r}: use 'bf16' (torch.bfloat16) or 'fp16' "
                     "(torch.float16). For fp32 training pass autocast=None to train().")


def _cpu_flags() -> set:
    """The CPU feature flags Linux reports (empty elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def native_bf16(device: Optional[torch.device | str] = None) -> bool:
    """Whether ``device`` multiplies bf16 numbers in hardware, so that bf16 autocast can be faster
    than fp32: CUDA GPUs of compute capability 8.0 or newer (A100, H100, RTX 30xx and later), and
    CPUs with the ``avx512_bf16`` or ``amx_bf16`` instructions (read from ``/proc/cpuinfo``, so
    Linux only). Anything else (an AVX2 CPU, an older GPU, MPS) emulates bf16, which is slower."""
    from accel_lib.core import default_device
    dev = torch.device(device) if device is not None else default_device()
    if dev.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.get_device_capability(dev)[0] >= 8
    if dev.type == "cpu":
        return bool(_cpu_flags() & {"avx512_bf16", "amx_bf16"})
    return False


def autocast(dtype: str | torch.dtype = "bf16", device: Optional[torch.device | str] = None,
             enabled: bool = True) -> Callable[[], ContextManager]:
    """A factory of autocast contexts for ``train(autocast=...)``.

    Args:
        dtype: ``"bf16"`` or ``"fp16"``.
        device: the device the model runs on (default: :func:`accel_lib.core.default_device`).
        enabled: ``False`` returns a factory of null contexts (the fp32 baseline, same code path).

    Example: ``train(model, loader, autocast=autocast("bf16"), ...)``; with ``"fp16"`` also pass
    ``scaler=torch.amp.GradScaler()`` or :class:`~accel_lib.system.loss_scaling.DynamicLossScaler`.
    """
    from accel_lib.core import default_device
    dt = resolve_dtype(dtype)
    dev = torch.device(device) if device is not None else default_device()
    if dev.type not in ("cpu", "cuda", "mps", "xpu"):
        raise ValueError(f"autocast is not available on device type {dev.type!r}; use cpu or cuda.")
    if dev.type == "cpu" and dt not in (torch.bfloat16, torch.float16):  # pragma: no cover (resolved above)
        raise ValueError("CPU autocast supports bf16 and fp16 only.")
    if not enabled:
        return nullcontext

    def factory() -> ContextManager:
        return torch.autocast(device_type=dev.type, dtype=dt)
    factory.dtype = dt  # type: ignore[attr-defined]
    factory.device_type = dev.type  # type: ignore[attr-defined]
    return factory


def module_output_dtypes(model: nn.Module, x: torch.Tensor,
                         context: Optional[Callable[[], ContextManager]] = None) -> dict:
    """The dtype of each leaf module's output in one forward pass under ``context`` (an autocast
    factory): shows which layers autocast runs in low precision. Returns ``{name: dtype}``."""
    seen: dict = {}
    handles = []
    for name, m in model.named_modules():
        if next(m.children(), None) is None:  # a leaf
            def hook(mod, inp, out, name=name):
                if isinstance(out, torch.Tensor):
                    seen[name] = out.dtype
            handles.append(m.register_forward_hook(hook))
    try:
        with torch.no_grad(), (context or nullcontext)():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return seen


def bytes_by_dtype(tensors) -> dict:
    """Total bytes of ``tensors`` (an iterable, e.g. ``model.parameters()``) grouped by dtype name."""
    out: dict = {}
    for t in tensors:
        k = str(t.dtype).replace("torch.", "")
        out[k] = out.get(k, 0) + t.numel() * t.element_size()
    return out
