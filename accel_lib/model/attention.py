"""Exact attention three ways: naive softmax(QK^T)V, tiled attention with an online softmax (the
FlashAttention algorithm, written in PyTorch for teaching), and ``F.scaled_dot_product_attention``.

Speeds up: activation memory, from O(T^2) to O(T) per head, because the tiled version never keeps
the T x T score matrix: it saves only Q, K, V, the output and one log-sum-exp per query row, and
recomputes scores block by block in the backward pass (on a GPU the fused kernel also cuts HBM
traffic, which is where its wall-clock gain comes from).
Paper: Dao et al., "FlashAttention: Fast and Memory-Efficient Exact Attention with IO-Awareness",
NeurIPS 2022; Milakov & Gimelshein, "Online normalizer calculation for softmax", 2018.
Reference: torch.nn.functional.scaled_dot_product_attention
(tests/model/test_attention.py::test_tiled_matches_sdpa_outputs_and_gradients).
Caveats: written in Python loops, the tiled version is slower than the naive one on a CPU at small
T; its value here is the memory curve and the algorithm. Use SDPA in practice: it dispatches to a
fused flash/memory-efficient kernel where one exists.
Book: book/model/basic_modules.ipynb
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import nn

from ..core.models import CausalSelfAttention
from ..core.technique import Stage, Technique

__all__ = ["naive_attention", "tiled_attention", "sdpa_attention", "ATTENTION_IMPLS",
           "attention_saved_bytes_model", "measure_attention_saved_bytes", "SwappableAttention", "swap_attention", "SwapAttention"]


def _check_qkv(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> None:
    if q.dim() != 4 or k.dim() != 4 or v.dim() != 4:
        raise ValueError(f"q, k, v must be (B, H, T, D); got shapes {tuple(q.shape)}, {tuple(k.shape)}, "
                         f"{tuple(v.shape)}. Reshape with .view(B, T, H, D).transpose(1, 2).")
    if q.shape[:2] != k.shape[:2] or k.shape[:3] != v.shape[:3] or q.shape[-1] != k.shape[-1]:
        raise ValueError(f"incompatible shapes q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}: "
                         "need the same (B, H), k and v with the same length, q and k with the same D.")


def naive_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = False,
                    scale: Optional[float] = None) -> torch.Tensor:
    """softmax(q k^T * scale) v, materialising the (B, H, Tq, Tk) score matrix.

    q: (B, H, Tq, D), k: (B, H, Tk, D), v: (B, H, Tk, Dv) -> (B, H, Tq, Dv).
    """
    _check_qkv(q, k, v)
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    s = (q @ k.transpose(-2, -1)) * scale                         # (B, H, Tq, Tk)
    if causal:
        tq, tk = s.shape[-2:]
        keep = torch.ones(tq, tk, dtype=torch.bool, device=q.device).tril(tk - tq)
        s = s.masked_fill(~keep, float("-inf"))
    return torch.softmax(s, dim=-1) @ v


def _blocks(n: int, size: int) -> list:
    return [(i, min(i + size, n)) for i in range(0, n, size)]


class _TiledAttention(torch.autograd.Function):
    """Forward and backward of exact attention in (block x block) tiles. Saves q, k, v, out, lse."""

    @staticmethod
    def forward(ctx, q, k, v, causal: bool, scale: float, block: int):  # type: ignore[override]
        tq, tk = q.shape[-2], k.shape[-2]
        off = tk - tq                               # causal diagonal offset (query i sees keys <= i + off)
        acc_t = torch.promote_types(q.dtype, torch.float32)       # accumulate in >= fp32
        out = torch.empty(*q.shape[:-1], v.shape[-1], dtype=q.dtype, device=q.device)
        lse = torch.empty(q.shape[:-1], dtype=acc_t, device=q.device)
        for i0, i1 in _blocks(tq, block):
            qi = q[..., i0:i1, :] * scale                                   # (B, H, Br, D)
            m = torch.full(qi.shape[:-1], float("-inf"), dtype=acc_t, device=q.device)
            l = torch.zeros_like(m)
            acc = torch.zeros(*qi.shape[:-1], v.shape[-1], dtype=acc_t, device=q.device)
            for j0, j1 in _blocks(tk, block):
                if causal and j0 > i1 - 1 + off:
                    break                                                   # block entirely masked
                s = (qi @ k[..., j0:j1, :].transpose(-2, -1)).to(acc_t)     # (B, H, Br, Bc)
                if causal and j1 - 1 > i0 + off:                            # block crosses the diagonal
                    rows = torch.arange(i0, i1, device=q.device)[:, None] + off
                    cols = torch.arange(j0, j1, device=q.device)[None, :]
                    s = s.masked_fill(cols > rows, float("-inf"))
                m_new = torch.maximum(m, s.amax(-1))
                p = torch.exp(s - m_new[..., None])
                corr = torch.exp(m - m_new)                                 # rescale what we had
                l = l * corr + p.sum(-1)
                acc = acc * corr[..., None] + p @ v[..., j0:j1, :].to(acc_t)
                m = m_new
            out[..., i0:i1, :] = (acc / l[..., None]).to(q.dtype)
            lse[..., i0:i1] = m + torch.log(l)
        ctx.save_for_backward(q, k, v, out, lse)
        ctx.causal, ctx.scale, ctx.block = causal, scale, block
        return out

    @staticmethod
    def backward(ctx, dout):  # type: ignore[override]
        q, k, v, out, lse = ctx.saved_tensors
        causal, scale, block = ctx.causal, ctx.scale, ctx.block
        tq, tk = q.shape[-2], k.shape[-2]
        off = tk - tq
        acc_t = lse.dtype
        dq = torch.zeros_like(q, dtype=acc_t)
        dk = torch.zeros_like(k, dtype=acc_t)
        dv = torch.zeros_like(v, dtype=acc_t)
        delta = (dout.to(acc_t) * out.to(acc_t)).sum(-1)                    # (B, H, Tq) = rowsum(dO * O)
        for i0, i1 in _blocks(tq, block):
            qi, doi = q[..., i0:i1, :].to(acc_t), dout[..., i0:i1, :].to(acc_t)
            for j0, j1 in _blocks(tk, block):
                if causal and j0 > i1 - 1 + off:
                    break
                kj, vj = k[..., j0:j1, :].to(acc_t), v[..., j0:j1, :].to(acc_t)
                s = (qi @ kj.transpose(-2, -1)) * scale
                if causal and j1 - 1 > i0 + off:
                    rows = torch.arange(i0, i1, device=q.device)[:, None] + off
                    cols = torch.arange(j0, j1, device=q.device)[None, :]
                    s = s.masked_fill(cols > rows, float("-inf"))
                p = torch.exp(s - lse[..., i0:i1, None])                    # recomputed probabilities
                dv[..., j0:j1, :] += p.transpose(-2, -1) @ doi
                dp = doi @ vj.transpose(-2, -1)
                ds = p * (dp - delta[..., i0:i1, None])
                dq[..., i0:i1, :] += (ds @ kj) * scale
                dk[..., j0:j1, :] += (ds.transpose(-2, -1) @ qi) * scale
        return dq.to(q.dtype), dk.to(k.dtype), dv.to(v.dtype), None, None, None


def tiled_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = False,
                    scale: Optional[float] = None, block_size: int = 64) -> torch.Tensor:
    """Exact attention computed in tiles with an online softmax (FlashAttention's algorithm).

    Same shapes and result as :func:`naive_attention`, but autograd keeps only q, k, v, the output
    and a (B, H, Tq) log-sum-exp: O(T) memory instead of O(T^2). ``block_size`` is the tile edge.
    """
    _check_qkv(q, k, v)
    if not isinstance(block_size, int) or block_size < 1:
        raise ValueError(f"block_size must be a positive integer, got {block_size!r}.")
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    return _TiledAttention.apply(q, k, v, causal, scale, block_size)


def sdpa_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = False,
                   scale: Optional[float] = None) -> torch.Tensor:
    """PyTorch's fused ``F.scaled_dot_product_attention`` (the production version)."""
    _check_qkv(q, k, v)
    return F.scaled_dot_product_attention(q, k, v, is_causal=causal, scale=scale)


ATTENTION_IMPLS: dict = {"naive": naive_attention, "tiled": tiled_attention, "sdpa": sdpa_attention}


def attention_saved_bytes_model(seq_len: int, impl: str, batch: int = 1, heads: int = 1, head_dim: int = 64,
                                causal: bool = False, dtype_bytes: int = 4) -> int:
    """Bytes autograd keeps for backward in one attention call *beyond* the packed q, k, v tensor
    (which the projection that produced it saves anyway), predicted by counting tensors:

    * ``naive``: the softmax output P (B*H*T*T elements), kept both for the softmax backward and
      for dV = P^T dO; causal adds the boolean T x T mask (T*T bytes);
    * ``tiled`` and ``sdpa`` (the CPU flash kernel): the output O (B*H*T*D) and a float32
      log-sum-exp per query row (B*H*T).

    :func:`measure_attention_saved_bytes` measures the same quantity; the tests check they agree.
    """
    if min(seq_len, batch, heads, head_dim) < 1:
        raise ValueError("seq_len, batch, heads and head_dim must be positive integers.")
    bh = batch * heads
    if impl == "naive":
        return bh * seq_len * seq_len * dtype_bytes + (seq_len * seq_len if causal else 0)
    if impl in ("tiled", "sdpa"):
        return bh * seq_len * head_dim * dtype_bytes + bh * seq_len * 4
    raise ValueError(f"unknown impl {impl!r}; use one of naive, tiled, sdpa.")


def measure_attention_saved_bytes(seq_len: int, impl: str, batch: int = 1, heads: int = 1, head_dim: int = 64,
                                  causal: bool = False, seed: int = 0) -> int:
    """Measured bytes saved for backward by one attention call beyond the packed q, k, v tensor
    (exact, with :func:`accel_lib.core.saved_activation_bytes`)."""
    from ..core.measure import saved_activation_bytes
    if impl not in ATTENTION_IMPLS:
        raise ValueError(f"unknown impl {impl!r}; use one of {', '.join(ATTENTION_IMPLS)}.")
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, heads, seq_len, 3 * head_dim, generator=g, requires_grad=True)
    fn = ATTENTION_IMPLS[impl]

    def run() -> torch.Tensor:
        qkv = x * 1.0                                    # a non-leaf, like a projection's output
        q, k, v = qkv.split(head_dim, dim=-1)
        return fn(q, k, v, causal=causal)
    return saved_activation_bytes(run)["activations"] - x.numel() * x.element_size()


class SwappableAttention(nn.Module):
    """Causal self-attention of the core GPT with a pluggable attention function.

    Reuses the ``qkv`` and ``proj`` layers of a :class:`~accel_lib.core.models.CausalSelfAttention`,
    so swapping never changes parameters. ``fn(q, k, v, causal=True)`` maps (B, H, T, D) to (B, H, T, D).
    """

    def __init__(self, attn: CausalSelfAttention, fn: Callable[..., torch.Tensor]) -> None:
        super().__init__()
        self.qkv, self.proj, self.n_head, self.fn = attn.qkv, attn.proj, attn.n_head, fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, T, C)
        b, t, c = x.shape
        q, k, v = self.qkv(x).split(c, dim=2)
        q, k, v = (z.view(b, t, self.n_head, c // self.n_head).transpose(1, 2) for z in (q, k, v))
        y = self.fn(q, k, v, causal=True)                               # (B, H, T, D)
        return self.proj(y.transpose(1, 2).reshape(b, t, c))


def swap_attention(model: nn.Module, fn: Callable[..., torch.Tensor]) -> int:
    """Replace every core ``CausalSelfAttention`` (or an earlier swap) in ``model`` in place;
    returns how many were replaced."""
    targets = [(name, m) for name, m in model.named_modules()
               if isinstance(m, (CausalSelfAttention, SwappableAttention))]
    for name, m in targets:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, SwappableAttention(m, fn))
    return len(targets)


@dataclass
class SwapAttention(Technique):
    """Use a given attention implementation in every GPT attention layer ("naive", "tiled", "sdpa",
    or "linear" from :mod:`accel_lib.model.linear_attention`)."""

    impl: str = "tiled"
    block_size: int = 64
    stage = Stage.SURGERY

    def setup_model(self, model: nn.Module, state) -> nn.Module:
        if self.impl == "linear":
            from .linear_attention import linear_attention
            fn: Callable = linear_attention
        elif self.impl == "tiled":
            bs = self.block_size
            fn = lambda q, k, v, causal=True: tiled_attention(q, k, v, causal=causal, block_size=bs)  # noqa: E731
        elif self.impl in ATTENTION_IMPLS:
            fn = ATTENTION_IMPLS[self.impl]
        else:
            raise ValueError(f"unknown impl {self.impl!r}; use naive, tiled, sdpa or linear.")
        if swap_attention(model, fn) == 0:
            raise ValueError("SwapAttention found no CausalSelfAttention layer; it applies to "
                             "accel_lib.core.GPT models.")
        return model
