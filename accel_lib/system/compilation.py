"""Compilation with ``torch.compile``: capture the model's Python into graphs (TorchDynamo) and
generate fused kernels for them (TorchInductor), instead of launching one kernel per operator.

Speeds up: wall-clock, by fusing chains of memory-bound elementwise operators into one kernel
(each intermediate is no longer written to and read back from memory) and by removing Python and
launch overhead; CUDA graphs (``mode="reduce-overhead"``) also remove per-kernel launch cost.
Paper: Ansel et al., "PyTorch 2: Faster Machine Learning Through Dynamic Python Bytecode
Transformation and Graph Compilation", ASPLOS 2024.
Reference: ``torch.compile`` is the implementation; tests/system/test_compilation.py checks that
compiled models compute the same outputs and gradients, and counts graph breaks with
``torch._dynamo.explain``.
Caveats: the first call compiles (seconds to minutes on a CPU; cached afterwards). Graph breaks
(data-dependent Python control flow, ``.item()``, prints) split the graph and lose fusion. On a
CPU, training steps dominated by convolutions and matmuls gain little (about 1x); elementwise
chains and small-batch inference gain most. Changing input shapes triggers recompiles.
Book: book/system/compilation.ipynb
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Optional

import torch
from torch import nn

from accel_lib.core import Stage, Technique

__all__ = ["available_backends", "apply_compile", "Compile", "graph_breaks", "elementwise_chain",
           "eager_op_count", "chain_memory_traffic", "time_first_call"]


def available_backends() -> list:
    """The ``torch.compile`` backends this installation registers (including debug ones such as
    ``eager`` and ``aot_eager``, which trace without generating code)."""
    import torch._dynamo
    return sorted(torch._dynamo.list_backends(exclude_tags=()))


def apply_compile(model: nn.Module, backend: str = "inductor", mode: Optional[str] = None,
                  fullgraph: bool = False, dynamic: Optional[bool] = None) -> nn.Module:
    """``torch.compile(model)`` with the backend checked first (an unknown backend otherwise fails
    only at the first call, deep inside a stack trace).

    ``mode="reduce-overhead"`` adds CUDA graphs on a GPU; ``fullgraph=True`` turns every graph
    break into an error, which is how you find them in your own model.
    """
    if not isinstance(model, nn.Module) and not callable(model):
        raise TypeError(f"apply_compile needs an nn.Module or a function, got {type(model).__name__}.")
    backends = available_backends()
    if backend not in backends:
        raise ValueError(f"unknown torch.compile backend {backend!r}; available here: "
                         f"{', '.join(backends)}. 'inductor' generates fused kernels, 'aot_eager' "
                         "only traces (useful to debug).")
    if mode is not None and backend != "inductor":
        raise ValueError(f"mode={mode!r} applies to the inductor backend only.")
    if mode == "reduce-overhead" and not torch.cuda.is_available():
        raise ValueError("mode='reduce-overhead' uses CUDA graphs and needs a CUDA GPU; on a CPU use "
                         "mode=None or 'max-autotune-no-cudagraphs'.")
    return torch.compile(model, backend=backend, mode=mode, fullgraph=fullgraph, dynamic=dynamic)


@dataclass
class Compile(Technique):
    """``torch.compile`` the model at :attr:`Stage.COMPILE` (after checkpointing, before DDP)."""

    stage: ClassVar[Stage] = Stage.COMPILE
    backend: str = "inductor"
    mode: Optional[str] = None
    fullgraph: bool = False

    def setup_model(self, model: nn.Module, state: Any) -> nn.Module:
        return apply_compile(model, self.backend, self.mode, self.fullgraph)


def graph_breaks(fn: Callable, *args: Any) -> dict:
    """Run TorchDynamo's ``explain`` on ``fn(*args)`` (no code generation, so it is quick).

    Returns ``{"graphs": n, "breaks": n, "ops": n, "reasons": [str, ...]}``: one graph and no
    breaks is what ``torch.compile`` fuses best."""
    import torch._dynamo
    torch._dynamo.reset()
    e = torch._dynamo.explain(fn)(*args)
    reasons = [str(getattr(b, "reason", b)).strip().splitlines()[0] for b in e.break_reasons]
    return {"graphs": e.graph_count, "breaks": e.graph_break_count, "ops": e.op_count, "reasons": reasons}


def elementwise_chain(x: torch.Tensor) -> torch.Tensor:
    """A chain of nine elementwise operators (the tanh GELU written by hand). Eager mode
    runs nine kernels, each reading and writing a full tensor; a fusing compiler runs one."""
    y = x * 0.5
    z = x * 0.7978845608 * (1.0 + 0.044715 * x * x)
    return y * (1.0 + torch.tanh(z))


def eager_op_count(fn: Callable, *args: Any) -> int:
    """Number of ATen operators ``fn(*args)`` dispatches in eager mode (each is one kernel launch)."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Counter(TorchDispatchMode):
        n = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            Counter.n += 1
            return func(*args, **(kwargs or {}))

    with Counter():
        fn(*args)
    return Counter.n


def chain_memory_traffic(fn: Callable, x: torch.Tensor) -> dict:
    """Bytes moved by ``fn(x)`` in eager mode (every operator reads its tensor inputs and writes
    its output) versus one fused kernel (reads ``x`` once, writes the result once)."""
    from torch.utils._python_dispatch import TorchDispatchMode
    total = [0]

    class Traffic(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            for a in args:
                if isinstance(a, torch.Tensor):
                    total[0] += a.numel() * a.element_size()
            if isinstance(out, torch.Tensor):
                total[0] += out.numel() * out.element_size()
            return out

    with Traffic():
        out = fn(x)
    fused = x.numel() * x.element_size() + out.numel() * out.element_size()
    return {"eager_bytes": total[0], "fused_bytes": fused, "ratio": total[0] / fused}


def time_first_call(fn: Callable, *args: Any) -> tuple:
    """``(seconds, output)`` of the first call (for a compiled function: compile + run)."""
    t0 = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, out
