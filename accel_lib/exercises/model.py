"""Checkers for the model-centric chapter's coding exercises.

Each runs a learner's function on fresh inputs against the library's (tested) reference and
raises ``AssertionError`` with a hint when they disagree; it returns ``True`` otherwise.
"""
from __future__ import annotations

from typing import Callable

import torch

__all__ = ["check_online_logsumexp", "check_magnitude_mask", "check_widen", "check_drop_path"]


def check_online_logsumexp(fn: Callable[[torch.Tensor, int], torch.Tensor]) -> bool:
    """``fn(x, block)``: logsumexp over the last dim of x (N, T), reading x ``block`` columns at a
    time with a running max and a running sum (the online softmax of tiled attention)."""
    g = torch.Generator().manual_seed(7)
    for t, block in ((10, 3), (64, 16), (33, 64)):
        x = torch.randn(5, t, generator=g, dtype=torch.float64) * 10
        x[0] += 1000.0                                      # a naive exp would overflow here
        got, want = fn(x, block), torch.logsumexp(x, dim=-1)
        assert got.shape == want.shape, f"expected shape {tuple(want.shape)}, got {tuple(got.shape)}"
        assert torch.isfinite(got).all(), ("got inf/nan: subtract the running max before exp and "
                                           "rescale the running sum by exp(old_max - new_max).")
        assert torch.allclose(got, want, atol=1e-8), f"T={t}, block={block}: max error {(got - want).abs().max():.3g}"
    return True


def check_magnitude_mask(fn: Callable[[torch.Tensor, float], torch.Tensor]) -> bool:
    """``fn(w, sparsity)``: a 0/1 mask zeroing the round(sparsity * numel) smallest ``|w|``."""
    import torch.nn.utils.prune as prune
    g = torch.Generator().manual_seed(3)
    for shape, s in (((8, 5), 0.5), ((4, 3, 3, 3), 0.9), ((100,), 0.0)):
        lin = torch.nn.Module()
        lin.weight = torch.nn.Parameter(torch.randn(shape, generator=g))
        w = lin.weight.detach().clone()
        prune.l1_unstructured(lin, "weight", amount=s)
        got = fn(w, s)
        assert got.shape == w.shape, "the mask must have the weight's shape"
        assert int((got == 0).sum()) == round(s * w.numel()), "prune exactly round(sparsity * numel) weights"
        assert torch.equal(got.to(lin.weight_mask.dtype), lin.weight_mask), "zero the entries of smallest |w|"
    return True


def check_widen(fn: Callable) -> bool:
    """``fn(fc1, fc2, new_width)`` -> (new_fc1, new_fc2) computing the same function
    fc2(relu(fc1(x))) with ``new_width`` hidden units."""
    g = torch.Generator().manual_seed(11)
    torch.manual_seed(11)
    fc1, fc2 = torch.nn.Linear(6, 5), torch.nn.Linear(5, 4)
    n1, n2 = fn(fc1, fc2, 9)
    assert n1.out_features == 9 and n2.in_features == 9, "the hidden layer must have new_width units"
    x = torch.randn(7, 6, generator=g)
    want = fc2(torch.relu(fc1(x)))
    got = n2(torch.relu(n1(x)))
    assert torch.allclose(got, want, atol=1e-5), ("outputs differ: divide each copied unit's outgoing "
                                                  "weights by the number of copies of its source unit.")
    return True


def check_drop_path(fn: Callable[[torch.Tensor, float], torch.Tensor]) -> bool:
    """``fn(x, p)``: per-example stochastic depth in training mode, equal to
    ``torchvision.ops.stochastic_depth(x, p, "row")`` for the same global seed."""
    from torchvision.ops import stochastic_depth
    x = torch.randn(32, 4, 3, 3)
    for p in (0.2, 0.5):
        torch.manual_seed(0)
        want = stochastic_depth(x, p, "row", training=True)
        torch.manual_seed(0)
        got = fn(x, p)
        assert got.shape == want.shape, "keep the input's shape"
        assert torch.allclose(got, want, atol=1e-6), ("draw the mask as torch.empty(B, 1, 1, 1).bernoulli_(1 - p)"
                                                      " from the global generator and divide survivors by 1 - p.")
    return True
