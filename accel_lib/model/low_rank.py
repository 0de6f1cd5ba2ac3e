"""Low-rank factorised layers: replace a d_out x d_in weight W by B A with inner rank r, initialised
from the truncated SVD of W.

Speeds up: parameters and FLOPs of a linear layer, from d_in * d_out to r * (d_in + d_out), so
a rank below d_in * d_out / (d_in + d_out) makes the layer cheaper in both.
Paper: Denil et al., "Predicting Parameters in Deep Learning", NeurIPS 2013; Sainath et al.,
"Low-rank matrix factorization for deep neural network training", ICASSP 2013; Eckart & Young, 1936
(the truncated SVD is the best rank-r approximation).
Reference: ``torch.linalg.svd`` / ``torch.svd_lowrank``; tests/model/test_low_rank.py checks the
Eckart-Young error (Frobenius error = root of the sum of squared tail singular values, spectral
error = the first dropped singular value).
Caveats: a trained network's weights are often not low-rank, so factorising after training costs
accuracy unless it is fine-tuned; the FLOPs gain needs r well below min(d_in, d_out) and becomes time
only when the matmuls are large enough to be compute-bound.
Book: book/model/compression.ipynb
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from torch import nn

from ..core.technique import Stage, Technique

__all__ = ["truncated_svd", "low_rank_error", "LowRankLinear", "factorize_linears", "LowRank"]


def _check_rank(w: torch.Tensor, rank: int) -> None:
    if w.dim() != 2:
        raise ValueError(f"need a matrix (d_out, d_in), got shape {tuple(w.shape)}.")
    if not isinstance(rank, int) or not 1 <= rank <= min(w.shape):
        raise ValueError(f"rank must be an integer in [1, {min(w.shape)}] for a {tuple(w.shape)} matrix, "
                         f"got {rank!r}; a rank larger than the matrix cannot be factorised.")


def truncated_svd(w: torch.Tensor, rank: int) -> tuple:
    """(B, A) with B: (d_out, r), A: (r, d_in) and B @ A the best rank-r approximation of ``w``
    (the singular values are split evenly: B = U_r sqrt(S_r), A = sqrt(S_r) V_r^T)."""
    _check_rank(w, rank)
    u, s, vh = torch.linalg.svd(w.detach().to(torch.promote_types(w.dtype, torch.float32)), full_matrices=False)
    root = s[:rank].sqrt()
    return (u[:, :rank] * root).to(w.dtype), (root[:, None] * vh[:rank]).to(w.dtype)


def low_rank_error(w: torch.Tensor, rank: int) -> dict:
    """Errors of the rank-r truncation predicted by Eckart-Young: Frobenius sqrt(sum_{i>r} s_i^2),
    spectral s_{r+1} (0 at full rank)."""
    _check_rank(w, rank)
    s = torch.linalg.svdvals(w.detach().to(torch.promote_types(w.dtype, torch.float32)))
    tail = s[rank:]
    return {"frobenius": float(tail.square().sum().sqrt()), "spectral": float(tail[0]) if len(tail) else 0.0}


class LowRankLinear(nn.Module):
    """y = x A^T B^T + b with A: (r, d_in), B: (d_out, r). x: (..., d_in) -> (..., d_out)."""

    def __init__(self, in_features: int, out_features: int, rank: int, bias: bool = True) -> None:
        super().__init__()
        _check_rank(torch.empty(out_features, in_features, device="meta"), rank)
        self.in_features, self.out_features, self.rank = in_features, out_features, rank
        self.a = nn.Linear(in_features, rank, bias=False)
        self.b = nn.Linear(rank, out_features, bias=bias)

    @classmethod
    def from_linear(cls, linear: nn.Linear, rank: int) -> "LowRankLinear":
        """Factorise a trained ``nn.Linear`` by truncated SVD (same bias)."""
        m = cls(linear.in_features, linear.out_features, rank, bias=linear.bias is not None)
        b, a = truncated_svd(linear.weight, rank)
        with torch.no_grad():
            m.a.weight.copy_(a)
            m.b.weight.copy_(b)
            if linear.bias is not None:
                m.b.bias.copy_(linear.bias)
        return m.to(linear.weight.device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(self.a(x))


def factorize_linears(model: nn.Module, rank_ratio: float = 0.25, min_features: int = 64,
                      names: Optional[tuple] = None) -> int:
    """Replace, in place, each ``nn.Linear`` with min(d_in, d_out) >= ``min_features`` (and, if
    ``names`` is given, whose attribute name is in it) by a :class:`LowRankLinear` of rank
    ``max(1, round(rank_ratio * min(d_in, d_out)))`` initialised by SVD. Tied weights are skipped."""
    if not 0.0 < rank_ratio <= 1.0:
        raise ValueError(f"rank_ratio must be in (0, 1], got {rank_ratio}.")
    shared = {id(p) for n, m in model.named_modules() if isinstance(m, nn.Embedding) for p in m.parameters()}
    targets = [(n, m) for n, m in model.named_modules()
               if isinstance(m, nn.Linear) and min(m.in_features, m.out_features) >= min_features
               and id(m.weight) not in shared and (names is None or n.rpartition(".")[2] in names)]
    for name, m in targets:
        r = max(1, round(rank_ratio * min(m.in_features, m.out_features)))
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, LowRankLinear.from_linear(m, r))
    return len(targets)


@dataclass
class LowRank(Technique):
    """Train with low-rank factorised Linear layers (rank = ``rank_ratio`` x the smaller side)."""

    rank_ratio: float = 0.25
    min_features: int = 64
    stage = Stage.SURGERY

    def setup_model(self, model: nn.Module, state) -> nn.Module:
        if factorize_linears(model, self.rank_ratio, self.min_features) == 0:
            raise ValueError(f"no nn.Linear with both sides >= {self.min_features} to factorise; "
                             "lower min_features.")
        return model
