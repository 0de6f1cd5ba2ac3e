"""Activation checkpointing: keep only the inputs of chosen blocks during the forward pass and
recompute their insides during the backward pass.

Speeds up: memory (saved activations), which buys a larger batch or model on the same device;
it *costs* time (about one extra forward of the checkpointed blocks, ~+33% FLOPs when all are).
Paper: Chen, Xu, Zhang, Guestrin, "Training Deep Nets with Sublinear Memory Cost", 2016
(O(sqrt(n)) memory for n layers at the cost of one extra forward pass).
Reference: torch.utils.checkpoint.checkpoint (tests/system/test_checkpointing.py::test_matches_torch_checkpoint).
Caveats: modules with side effects run twice: BatchNorm would update its running statistics
twice (refused unless ``preserve_buffers=True``, which restores them around the recompute);
dropout is replayed with the same random state. Pays only when memory is the limit.
Book: book/system/memory.ipynb
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Optional, Sequence

import torch
from torch import nn

from accel_lib.core import Stage, Technique

__all__ = ["checkpoint", "CheckpointFunction", "Checkpointed", "find_blocks", "side_effect_modules",
           "apply_activation_checkpointing", "apply_segment_checkpointing", "segment_sizes", "sqrt_rule", "ActivationCheckpointing"]


class CheckpointFunction(torch.autograd.Function):
    """``fn(*inputs)`` run without saving its intermediates; backward re-runs it with grad enabled.

    Only the inputs are saved. The CPU random state is captured before the forward and restored
    for the recompute, so dropout masks are identical (on CUDA the CUDA state is restored too).
    """

    @staticmethod
    def forward(ctx, fn: Callable, restore: Optional[Callable], anchor: torch.Tensor, *inputs: torch.Tensor):
        ctx.fn, ctx.restore = fn, restore
        ctx.cpu_rng = torch.get_rng_state()
        ctx.cuda_rng = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
        ctx.save_for_backward(*inputs)
        with torch.no_grad():
            return fn(*inputs)

    @staticmethod
    def backward(ctx, *grad_out: torch.Tensor):
        inputs = [x.detach().requires_grad_(x.requires_grad) for x in ctx.saved_tensors]
        rng_now = torch.get_rng_state()
        cuda_now = torch.cuda.get_rng_state_all() if ctx.cuda_rng is not None else None
        torch.set_rng_state(ctx.cpu_rng)
        if ctx.cuda_rng is not None:
            torch.cuda.set_rng_state_all(ctx.cuda_rng)
        undo = ctx.restore() if ctx.restore is not None else None
        try:
            with torch.enable_grad():
                out = ctx.fn(*inputs)                              # the recompute
            outs = out if isinstance(out, tuple) else (out,)
            pairs = [(o, g) for o, g in zip(outs, grad_out) if o.requires_grad and g is not None]
            torch.autograd.backward([o for o, _ in pairs], [g for _, g in pairs])
        finally:
            if undo is not None:
                undo()       # after the inner backward, which may read the buffers it saved
            torch.set_rng_state(rng_now)
            if cuda_now is not None:
                torch.cuda.set_rng_state_all(cuda_now)
        # grads for fn, restore and anchor, then each input (parameters get theirs through .grad)
        return (None, None, None) + tuple(x.grad if x.requires_grad else None for x in inputs)


def _buffer_snapshot(module: nn.Module) -> Callable[[], Callable[[], None]]:
    """A callable that snapshots ``module``'s buffers and returns an undo that restores them."""
    def take() -> Callable[[], None]:
        saved = [(b, b.detach().clone()) for b in module.buffers()]

        def undo() -> None:
            with torch.no_grad():
                for b, v in saved:
                    b.copy_(v)
        return undo
    return take


def side_effect_modules(module: nn.Module) -> list:
    """Names of submodules whose forward changes state in training mode (BatchNorm running
    statistics): recomputing them would apply the update twice."""
    return [n or type(module).__name__ for n, m in module.named_modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training and m.track_running_stats]


def checkpoint(fn: Callable, *inputs: torch.Tensor, module: Optional[nn.Module] = None,
               preserve_buffers: bool = False) -> Any:
    """Run ``fn(*inputs)`` with activation checkpointing (from scratch).

    ``module`` (the module ``fn`` runs, if any) is checked for side effects; with
    ``preserve_buffers=True`` its buffers are restored after the recompute so BatchNorm statistics
    are updated exactly once, otherwise such modules raise ``ValueError``.
    """
    restore = None
    if module is not None and module.training:
        bad = side_effect_modules(module)
        if bad and not preserve_buffers:
            raise ValueError(f"checkpointing would run BatchNorm {bad} twice and update its running "
                             "statistics twice. Pass preserve_buffers=True (restores them after the "
                             "recompute), or checkpoint blocks without BatchNorm.")
        if bad:
            restore = _buffer_snapshot(module)
    if not torch.is_grad_enabled():
        return fn(*inputs)
    # ``anchor``: an empty tensor that requires grad, so that backward reaches this node (and the
    # parameters inside ``fn`` get gradients) even when no input requires grad. It is not saved.
    anchor = torch.empty(0, requires_grad=True)
    return CheckpointFunction.apply(fn, restore, anchor, *inputs)


class Checkpointed(nn.Module):
    """Wrap ``module`` so that its forward is checkpointed in training mode (and plain in eval).

    ``impl="scratch"`` uses :class:`CheckpointFunction`; ``impl="torch"`` uses
    ``torch.utils.checkpoint.checkpoint(use_reentrant=False)``.
    """

    def __init__(self, module: nn.Module, impl: str = "scratch", preserve_buffers: bool = False) -> None:
        super().__init__()
        if impl not in ("scratch", "torch"):
            raise ValueError(f"impl must be 'scratch' or 'torch', got {impl!r}.")
        self.module, self.impl, self.preserve_buffers = module, impl, preserve_buffers

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and torch.is_grad_enabled()):
            return self.module(x)
        if self.impl == "torch":
            if side_effect_modules(self.module) and not self.preserve_buffers:
                raise ValueError("torch.utils.checkpoint would update BatchNorm running statistics "
                                 "twice; use impl='scratch' with preserve_buffers=True.")
            from torch.utils.checkpoint import checkpoint as torch_checkpoint
            return torch_checkpoint(self.module, x, use_reentrant=False)
        return checkpoint(self.module, x, module=self.module, preserve_buffers=self.preserve_buffers)


def find_blocks(model: nn.Module) -> tuple:
    """``(container, names)`` of the repeated blocks of a reference model: ``model.blocks`` (GPT,
    FastCNN), the four ``layer*`` stages' BasicBlocks of a ResNet, or an ``nn.Sequential``'s children."""
    inner = model.module if hasattr(model, "module") and isinstance(model.module, nn.Module) else model
    if hasattr(inner, "blocks") and isinstance(inner.blocks, (nn.Sequential, nn.ModuleList)):
        return [(inner.blocks, str(i)) for i in range(len(inner.blocks))]
    if all(hasattr(inner, f"layer{i}") for i in range(1, 5)):
        return [(getattr(inner, f"layer{i}"), str(j)) for i in range(1, 5)
                for j in range(len(getattr(inner, f"layer{i}")))]
    if isinstance(inner, nn.Sequential):
        return [(inner, str(i)) for i in range(len(inner))]
    raise ValueError(f"cannot find repeated blocks in {type(inner).__name__}: give it a `blocks` "
                     "nn.Sequential/ModuleList, or wrap blocks yourself with Checkpointed.")


def apply_activation_checkpointing(model: nn.Module, every: int = 1, impl: str = "scratch",
                                   preserve_buffers: bool = False) -> nn.Module:
    """Checkpoint every ``every``-th block of ``model`` in place (``every=1``: all blocks, ``2``:
    blocks 0, 2, 4, ...: half the blocks keep their activations). Returns the model."""
    if int(every) != every or every < 1:
        raise ValueError(f"every must be a positive integer (1 = every block), got {every!r}.")
    for i, (parent, name) in enumerate(find_blocks(model)):
        if i % every == 0:
            blk = parent._modules[name]
            if not isinstance(blk, Checkpointed):
                parent._modules[name] = Checkpointed(blk, impl=impl, preserve_buffers=preserve_buffers)
    return model


def apply_segment_checkpointing(blocks: nn.Sequential, segments: int, impl: str = "scratch",
                                preserve_buffers: bool = False) -> nn.Sequential:
    """Chen et al.'s scheme: split ``blocks`` into ``segments`` contiguous segments and checkpoint
    each as one unit, so only segment inputs are kept (n/k tensors) and backward recomputes one
    segment (k blocks) at a time. Returns a new ``nn.Sequential`` sharing the blocks."""
    if not isinstance(blocks, nn.Sequential):
        raise TypeError(f"blocks must be an nn.Sequential, got {type(blocks).__name__}.")
    out, i = [], 0
    for size in segment_sizes(len(blocks), segments):
        out.append(Checkpointed(nn.Sequential(*blocks[i:i + size]), impl=impl, preserve_buffers=preserve_buffers))
        i += size
    return nn.Sequential(*out)


def segment_sizes(n: int, segments: int) -> list:
    """Split ``n`` layers into ``segments`` contiguous segments as evenly as possible."""
    if not 1 <= segments <= n:
        raise ValueError(f"segments must be in [1, {n}], got {segments}.")
    q, r = divmod(n, segments)
    return [q + (1 if i < r else 0) for i in range(segments)]


def sqrt_rule(n: int) -> int:
    """Chen et al.'s choice: about sqrt(n) segments of sqrt(n) layers each, so the stored segment
    inputs (n/k) plus one recomputed segment (k) are O(sqrt(n)). Minimises n/k + k."""
    if n < 1:
        raise ValueError("n must be >= 1.")
    best = min(range(1, n + 1), key=lambda k: (math.ceil(n / k) + k, k))
    return best


@dataclass
class ActivationCheckpointing(Technique):
    """Checkpoint every ``every``-th block at :attr:`Stage.MEMORY` (after layout, before compile)."""

    stage: ClassVar[Stage] = Stage.MEMORY
    every: int = 1
    impl: str = "scratch"
    preserve_buffers: bool = True

    def setup_model(self, model: nn.Module, state: Any) -> nn.Module:
        return apply_activation_checkpointing(model, self.every, self.impl, self.preserve_buffers)
