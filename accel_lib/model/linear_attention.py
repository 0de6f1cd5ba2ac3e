"""Linear attention: replace softmax(q.k) by a kernel phi(q).phi(k) so that attention costs O(T)
time and memory instead of O(T^2).

Speeds up: attention FLOPs and memory at long sequence lengths, by reassociating
(phi(Q) phi(K)^T) V as phi(Q) (phi(K)^T V): a D x D running state replaces the T x T matrix.
Paper: Katharopoulos et al., "Transformers are RNNs: Fast Autoregressive Transformers with Linear
Attention", ICML 2020 (phi = elu + 1); see also Wang et al., "Linformer", 2020.
Reference: none in PyTorch; tests/model/test_linear_attention.py checks the chunked O(T) version
against the explicit quadratic form written in the test.
Caveats: it is a different model, not an approximation that converges to softmax attention, and
the literature reports lower quality than softmax attention at convergence; the page's short
character-LM run is the measured comparison here. At short contexts (T <= D) it saves nothing.
Book: book/model/basic_modules.ipynb
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["elu_feature_map", "linear_attention", "linear_attention_flops"]


def elu_feature_map(x: torch.Tensor) -> torch.Tensor:
    """phi(x) = elu(x) + 1 > 0, the feature map of Katharopoulos et al."""
    return F.elu(x) + 1.0


def linear_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = False,
                     chunk_size: int = 64, eps: float = 1e-6) -> torch.Tensor:
    """Kernelised attention ``phi(q_i).sum_j phi(k_j) v_j^T / phi(q_i).sum_j phi(k_j)``.

    q, k: (B, H, T, D); v: (B, H, T, Dv) -> (B, H, T, Dv). Causal sums run over j <= i; they are
    computed chunk by chunk (a masked C x C product inside a chunk, a carried D x Dv state across
    chunks), so memory is O(T * chunk_size + (T / chunk_size) * D * Dv) rather than O(T^2).
    """
    if q.dim() != 4 or k.shape != q.shape or v.shape[:3] != q.shape[:3]:
        raise ValueError(f"need q, k (B, H, T, D) of equal shape and v (B, H, T, Dv); got "
                         f"{tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}.")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}.")
    fq, fk = elu_feature_map(q), elu_feature_map(k)
    if not causal:
        kv = fk.transpose(-2, -1) @ v                                   # (B, H, D, Dv)
        z = fk.sum(-2)                                                  # (B, H, D)
        return (fq @ kv) / ((fq * z[..., None, :]).sum(-1, keepdim=True) + eps)
    b, h, t, d = q.shape
    state = q.new_zeros(b, h, d, v.shape[-1])                           # sum of phi(k_j) v_j^T so far
    norm = q.new_zeros(b, h, d)                                         # sum of phi(k_j) so far
    outs = []
    for c0 in range(0, t, chunk_size):
        c1 = min(c0 + chunk_size, t)
        qc, kc, vc = fq[..., c0:c1, :], fk[..., c0:c1, :], v[..., c0:c1, :]
        a = (qc @ kc.transpose(-2, -1)).tril()                          # (B, H, C, C) within chunk
        num = a @ vc + qc @ state
        den = a.sum(-1) + (qc * norm[..., None, :]).sum(-1)
        outs.append(num / (den[..., None] + eps))
        state = state + kc.transpose(-2, -1) @ vc
        norm = norm + kc.sum(-2)
    return torch.cat(outs, dim=-2)


def linear_attention_flops(seq_len: int, head_dim: int, causal: bool = True, chunk_size: int = 64) -> dict:
    """Matmul FLOPs (2 per multiply-add) of one head: softmax attention vs chunked linear attention.

    Softmax: QK^T and PV, 2 * 2*T*T*D. Linear (causal, chunk C): per chunk a C x C score block and
    its product with V (2 * 2*C*C*D), the query-state product and the state update (2 * 2*C*D*D).
    """
    t, d, c = seq_len, head_dim, min(chunk_size, seq_len)
    soft = 4 * t * t * d
    if causal:
        n = -(-t // c)
        lin = n * (4 * c * c * d + 4 * c * d * d)
    else:
        lin = 4 * t * d * d
    return {"softmax": soft, "linear": lin, "ratio": lin / soft}
