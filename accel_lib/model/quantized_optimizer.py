"""8-bit optimizer state: keep Adam's two moment buffers as 8-bit codes with one fp32 scale per
block of 256 values, dequantising them only inside the update.

Speeds up: optimizer memory, from 8 bytes per parameter (two fp32 moments) to about 2.03 bytes, so
larger models or batches fit; the update itself is unchanged in form.
Paper: Dettmers, Lewis, Shleifer & Zettlemoyer, "8-bit Optimizers via Block-wise Quantization",
ICLR 2022 (block-wise scaling and a non-linear "dynamic" code; ours is a simpler log-spaced code).
Reference: ``torch.optim.Adam``: with quantisation disabled (tensors below ``min_size``) the
update is identical (tests/model/test_quantized_optimizer.py::test_matches_adam_when_unquantized);
``bitsandbytes.optim.Adam8bit`` is the production version (not a dependency).
Caveats: the dequantise/requantise work makes steps slower in plain PyTorch (a fused kernel hides
it); rounding adds noise to the moments, which the block-wise scales keep small.
Book: book/model/compression.ipynb
"""
from __future__ import annotations

import math
from typing import Iterable

import torch

__all__ = ["dynamic_code", "quantize_blockwise", "dequantize_blockwise", "Adam8bit", "optimizer_state_bytes"]

_CODES: dict = {}


def dynamic_code(signed: bool = True, decades: int = 7) -> torch.Tensor:
    """256 (signed) or 256 (unsigned) sorted code values in [-1, 1] / [0, 1], spaced evenly in
    log scale over ``decades`` powers of ten, plus 0: relative precision is about the same for
    small and large values, which linear codes lack (they flush small second moments to zero)."""
    key = (signed, decades)
    if key not in _CODES:
        n_pos = 127 if signed else 255
        pos = torch.logspace(-decades, 0, n_pos, dtype=torch.float64)
        vals = torch.cat([-pos.flip(0), torch.zeros(1, dtype=torch.float64), pos]) if signed else \
            torch.cat([torch.zeros(1, dtype=torch.float64), pos])
        _CODES[key] = vals.float()
    return _CODES[key]


def quantize_blockwise(x: torch.Tensor, block: int = 256, signed: bool = True) -> tuple:
    """(codes uint8 (N,), absmax fp32 (ceil(N / block),)): each block is divided by its absolute
    maximum and every value mapped to the nearest entry of :func:`dynamic_code`."""
    if block < 1:
        raise ValueError(f"block must be positive, got {block}.")
    if not signed and bool((x < 0).any()):
        raise ValueError("unsigned quantisation needs non-negative values (e.g. Adam's second moment).")
    code = dynamic_code(signed).to(x.device)
    flat = x.reshape(-1).float()
    n = flat.numel()
    pad = (-n) % block
    blocks = torch.cat([flat, flat.new_zeros(pad)]).view(-1, block)
    absmax = blocks.abs().amax(1).clamp_min(1e-30)
    normed = (blocks / absmax[:, None]).reshape(-1)[:n]
    hi = torch.bucketize(normed, code).clamp(1, len(code) - 1)       # code[hi-1] < v <= code[hi]
    lo = hi - 1
    idx = torch.where((normed - code[lo]).abs() <= (code[hi] - normed).abs(), lo, hi)
    return idx.to(torch.uint8), absmax


def dequantize_blockwise(codes: torch.Tensor, absmax: torch.Tensor, shape: torch.Size, block: int = 256,
                         signed: bool = True) -> torch.Tensor:
    code = dynamic_code(signed).to(codes.device)
    vals = code[codes.long()]
    n = vals.numel()
    scale = absmax.repeat_interleave(block)[:n]
    return (vals * scale).view(shape)


class Adam8bit(torch.optim.Optimizer):
    """Adam (optionally AdamW-style decoupled weight decay) whose moments are stored block-wise in
    8 bits for tensors with at least ``min_size`` elements (smaller ones stay fp32, as in the paper)."""

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, decoupled: bool = True, block: int = 256, min_size: int = 4096) -> None:
        if lr <= 0 or not 0 <= betas[0] < 1 or not 0 <= betas[1] < 1:
            raise ValueError("need lr > 0 and betas in [0, 1).")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      decoupled=decoupled, block=block, min_size=min_size))

    @torch.no_grad()
    def step(self, closure=None):  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for g_ in self.param_groups:
            b1, b2 = g_["betas"]
            for p in g_["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                st = self.state[p]
                quant = p.numel() >= g_["min_size"]
                if not st:
                    st["step"] = 0
                    if quant:
                        st["m"] = quantize_blockwise(torch.zeros_like(p), g_["block"], True)
                        st["v"] = quantize_blockwise(torch.zeros_like(p), g_["block"], False)
                    else:
                        st["m"], st["v"] = torch.zeros_like(p), torch.zeros_like(p)
                st["step"] += 1
                t = st["step"]
                if g_["weight_decay"]:
                    if g_["decoupled"]:
                        p.mul_(1 - g_["lr"] * g_["weight_decay"])
                    else:
                        grad = grad.add(p, alpha=g_["weight_decay"])
                if quant:
                    m = dequantize_blockwise(*st["m"], p.shape, g_["block"], True)
                    v = dequantize_blockwise(*st["v"], p.shape, g_["block"], False)
                else:
                    m, v = st["m"], st["v"]
                m.lerp_(grad, 1 - b1)
                v.mul_(b2).addcmul_(grad, grad, value=1 - b2)
                denom = (v.sqrt() / math.sqrt(1 - b2 ** t)).add_(g_["eps"])
                p.addcdiv_(m, denom, value=-g_["lr"] / (1 - b1 ** t))
                if quant:
                    st["m"] = quantize_blockwise(m, g_["block"], True)
                    st["v"] = quantize_blockwise(v, g_["block"], False)
        return loss


def optimizer_state_bytes(opt: torch.optim.Optimizer) -> int:
    """Bytes held in an optimizer's per-parameter state tensors (step counters included)."""
    total = 0
    for st in opt.state.values():
        for v in st.values():
            for t in (v if isinstance(v, tuple) else (v,)):
                if isinstance(t, torch.Tensor):
                    total += t.numel() * t.element_size()
    return total
