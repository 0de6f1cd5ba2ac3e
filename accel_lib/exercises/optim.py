"""Checkers for the optimization-centric chapter's coding exercises.

Each ``check_*`` calls a learner's function on fresh inputs, compares it with the library's
implementation and raises ``AssertionError`` with a hint on the first mismatch; it returns True.
"""
from __future__ import annotations

import math
from typing import Callable

import torch

from accel_lib.optim.ema import ema_update
from accel_lib.optim.lars import lars_trust_ratio
from accel_lib.optim.lookahead import lookahead_sync
from accel_lib.optim.noise_scale import noise_scale_estimates
from accel_lib.optim.sam import sam_perturbation
from accel_lib.optim.schedules import cosine, one_cycle, warmup_cosine

__all__ = ["check_warmup_cosine", "check_one_cycle", "check_lars_trust_ratio", "check_noise_scale",
           "check_sam_perturbation", "check_ema_update", "check_lookahead_sync"]


def _close(a: float, b: float, what: str, tol: float = 1e-6) -> None:
    if not (abs(float(a) - float(b)) <= tol * max(1.0, abs(float(b)))):
        raise AssertionError(f"{what}: got {float(a):.6g}, expected {float(b):.6g}.")


def check_warmup_cosine(fn: Callable[[float, float, float], float]) -> bool:
    """``fn(progress, warmup, final)``: linear warmup from 0 to 1 over ``warmup``, then a half
    cosine from 1 to ``final`` over the rest."""
    for warmup, final in ((0.1, 0.0), (0.25, 0.1), (0.0, 0.05)):
        ref = warmup_cosine(warmup, final) if warmup > 0 else cosine(final)
        for p in (0.0, 0.05, 0.1, 0.3, 0.5, 0.77, 1.0):
            _close(fn(p, warmup, final), ref(p), f"warmup_cosine(p={p}, warmup={warmup}, final={final}) "
                   "(hint: after warmup, rescale progress to (p - warmup) / (1 - warmup))")
    return True


def check_one_cycle(fn: Callable[[float], float]) -> bool:
    """``fn(progress)`` for one_cycle(peak_at=0.3, div=25, final_div=1e4) (cosine phases)."""
    ref = one_cycle(0.3, 25.0, 1e4)
    for p in (0.0, 0.1, 0.3, 0.31, 0.6, 0.9, 1.0):
        _close(fn(p), ref(p), f"one_cycle at p={p} (hint: start at 1/25, peak 1 at 0.3, end at 1/(25*1e4))")
    return True


def check_lars_trust_ratio(fn: Callable[..., torch.Tensor]) -> bool:
    """``fn(w, g, eta, weight_decay)`` -> the LARS trust ratio (1 when a norm is zero)."""
    g = torch.Generator().manual_seed(7)
    for _ in range(5):
        w, gr = torch.randn(6, 4, generator=g), torch.randn(6, 4, generator=g) * 0.1
        _close(fn(w, gr, 1e-3, 1e-4), lars_trust_ratio(w, gr, 1e-3, 1e-4), "trust ratio")
    _close(fn(torch.zeros(3), torch.ones(3), 1e-3, 0.0), 1.0, "trust ratio of a zero tensor (hint: fall back to 1)")
    return True


def check_noise_scale(fn: Callable[[float, float, int, int], float]) -> bool:
    """``fn(g_small_sq, g_big_sq, b_small, b_big)`` -> B_simple = ``tr(Sigma) / |G|^2``."""
    for a, b, bs, bb in ((2.0, 1.2, 32, 256), (5.0, 4.5, 64, 128), (1.1, 0.2, 8, 1024)):
        g2, s = noise_scale_estimates(a, b, bs, bb)
        _close(fn(a, b, bs, bb), s / g2, f"B_simple for |G_small|^2={a}, |G_big|^2={b}")
    return True


def check_sam_perturbation(fn: Callable[[list, float], list]) -> bool:
    """``fn(grads, rho)`` -> the list of tensors ``rho * g / ||g||`` (one global norm)."""
    gen = torch.Generator().manual_seed(3)
    grads = [torch.randn(3, 2, generator=gen), torch.randn(5, generator=gen)]
    got, ref = fn([g.clone() for g in grads], 0.05), sam_perturbation(grads, 0.05)
    for a, b in zip(got, ref):
        if not torch.allclose(a, b, atol=1e-6):
            raise AssertionError("perturbation differs (hint: one norm over *all* tensors, not per tensor).")
    return True


def check_ema_update(fn: Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]) -> bool:
    """``fn(avg, new, decay)`` -> the new average ``decay * avg + (1 - decay) * new``."""
    a, n = torch.randn(10), torch.randn(10)
    ref = a.clone()
    ema_update([ref], [n], 0.9)
    got = fn(a.clone(), n, 0.9)
    if not torch.allclose(got, ref, atol=1e-6):
        raise AssertionError("EMA differs (hint: the old average keeps weight `decay`).")
    return True


def check_lookahead_sync(fn: Callable[[torch.Tensor, torch.Tensor, float], tuple]) -> bool:
    """``fn(slow, fast, alpha)`` -> ``(new_slow, new_fast)`` after one Lookahead synchronisation."""
    s, f = torch.randn(7), torch.randn(7)
    rs, rf = s.clone(), f.clone()
    lookahead_sync([rs], [rf], 0.5)
    gs, gf = fn(s.clone(), f.clone(), 0.5)
    if not (torch.allclose(gs, rs, atol=1e-6) and torch.allclose(gf, rf, atol=1e-6)):
        raise AssertionError("sync differs (hint: slow moves alpha of the way to fast; fast restarts at slow).")
    return True
