"""Checkers for the system-centric pages' coding exercises (precision, memory, compilation, input
pipeline). Each runs the learner's function against the library on fresh inputs and raises
``AssertionError`` with a hint when they disagree; it returns ``True`` otherwise."""
from __future__ import annotations

import random
from typing import Callable

import torch
from torch import nn

__all__ = ["check_scale_update", "check_saved_bytes_formula", "check_no_graph_breaks", "check_sgd_foreach"]


def check_scale_update(fn: Callable) -> bool:
    """``fn(scale, tracker, found_inf, growth_factor, backoff_factor, growth_interval) -> (scale, tracker)``:
    one dynamic loss-scale update. Checked against :class:`accel_lib.system.loss_scaling.DynamicLossScaler`
    on random sequences of overflowing and clean steps."""
    from accel_lib.system.loss_scaling import DynamicLossScaler
    rng = random.Random(0)
    for trial in range(20):
        interval = rng.randint(1, 4)
        ref = DynamicLossScaler(init_scale=2.0 ** rng.randint(4, 16), growth_interval=interval)
        scale, tracker = ref.get_scale(), 0
        for t in range(12):
            inf = rng.random() < 0.3
            ref._found_inf[0] = inf
            ref.update()
            scale, tracker = fn(scale, tracker, inf, 2.0, 0.5, interval)
            assert (float(scale), int(tracker)) == (ref.get_scale(), ref._tracker), (
                f"trial {trial}, step {t} (found_inf={inf}, interval={interval}): got scale={scale}, "
                f"tracker={tracker}; expected scale={ref.get_scale()}, tracker={ref._tracker}. Hint: on "
                "overflow back off and reset the tracker; otherwise count, and grow (then reset) when "
                "the count reaches the interval.")
    return True


def check_saved_bytes_formula(fn: Callable) -> bool:
    """``fn(depth, every, batch, width) -> bytes``: saved activations of ``depth`` blocks
    ``Linear(width, width) -> GELU`` (fp32) when every ``every``-th block is checkpointed.
    Checked against exact measurement with ``saved_activation_bytes``."""
    from accel_lib.core import saved_activation_bytes
    from accel_lib.system.checkpointing import apply_activation_checkpointing
    for depth, every, batch, width in [(4, 1, 2, 8), (6, 2, 3, 16), (7, 3, 4, 8), (5, 5, 1, 32), (8, 9, 2, 8)]:
        m = nn.Sequential(*[nn.Sequential(nn.Linear(width, width), nn.GELU()) for _ in range(depth)])
        m = apply_activation_checkpointing(m, every=every)
        x = torch.randn(batch, width)
        got = int(fn(depth, every, batch, width))
        want = saved_activation_bytes(lambda: m(x))["activations"]
        assert got == want, (f"depth={depth}, every={every}, batch={batch}, width={width}: you predicted "
                             f"{got} bytes, measured {want}. Hint: a plain block saves two (batch, width) "
                             "fp32 tensors, a checkpointed one only its input.")
    return True


def check_no_graph_breaks(fn: Callable) -> bool:
    """``fn(x)`` must compute ``x * 2`` where ``x.sum() > 0`` and ``-x`` elsewhere, *per call*
    (``torch.where(x.sum() > 0, x * 2, -x)``), with no graph break under TorchDynamo."""
    from accel_lib.system.compilation import graph_breaks
    for seed in range(4):
        x = torch.randn(16, generator=torch.Generator().manual_seed(seed)) + (seed - 2)
        want = x * 2 if x.sum() > 0 else -x
        assert torch.allclose(fn(x), want), f"wrong values for seed {seed}."
    r = graph_breaks(fn, torch.randn(16))
    assert r["breaks"] == 0, (f"{r['breaks']} graph break(s): {r['reasons']}. Hint: keep the condition a "
                              "tensor (torch.where) instead of a Python `if` on .item() or bool().")
    return True


def check_sgd_foreach(fn: Callable) -> bool:
    """``fn(params, grads, bufs, lr, momentum)``: one SGD-with-momentum step written with
    ``torch._foreach_*`` (``bufs`` start as zeros; PyTorch sets ``buf = grad`` on the first step, here
    ``buf = momentum * buf + grad`` from zero, which is the same). Checked against ``torch.optim.SGD``."""
    torch.manual_seed(0)
    ps = [torch.randn(5, 3), torch.randn(7)]
    ref = [nn.Parameter(p.clone()) for p in ps]
    opt = torch.optim.SGD(ref, lr=0.1, momentum=0.9)
    bufs = [torch.zeros_like(p) for p in ps]
    for step in range(3):
        gs = [torch.randn_like(p) for p in ps]
        for r, g in zip(ref, gs):
            r.grad = g.clone()
        opt.step()
        with torch.no_grad():
            fn(ps, gs, bufs, 0.1, 0.9)
        for i, (p, r) in enumerate(zip(ps, ref)):
            assert torch.allclose(p, r.detach(), atol=1e-6), (
                f"step {step}, tensor {i} differs from torch.optim.SGD. Hint: bufs = momentum*bufs + "
                "grads (_foreach_mul_, _foreach_add_), then params -= lr * bufs (_foreach_add_ with alpha).")
    return True
