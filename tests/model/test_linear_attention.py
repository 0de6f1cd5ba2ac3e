import pytest
import torch

from accel_lib.model.attention import SwapAttention
from accel_lib.model.linear_attention import elu_feature_map, linear_attention, linear_attention_flops
from tests.model.helpers import tiny_gpt, train_gpt


def _quadratic(q, k, v, causal):
    a = elu_feature_map(q) @ elu_feature_map(k).transpose(-2, -1)
    if causal:
        a = a.tril()
    return (a @ v) / (a.sum(-1, keepdim=True) + 1e-6)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("chunk", [1, 7, 64])
def test_chunked_matches_quadratic_form(causal, chunk):
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 2, 23, 4, generator=g, dtype=torch.float64) for _ in range(3))
    assert torch.allclose(linear_attention(q, k, v, causal, chunk), _quadratic(q, k, v, causal), atol=1e-10)


def test_causality_future_does_not_leak():
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, 1, 10, 4, generator=g) for _ in range(3))
    out = linear_attention(q, k, v, causal=True, chunk_size=3)
    k2, v2 = k.clone(), v.clone()
    k2[..., 6:, :] += 5
    v2[..., 6:, :] -= 3
    out2 = linear_attention(q, k2, v2, causal=True, chunk_size=3)
    assert torch.allclose(out[..., :6, :], out2[..., :6, :]) and not torch.allclose(out, out2)


def test_flops_formula_matches_counter():
    from accel_lib.core import count_flops
    t, d, c = 128, 16, 32
    q, k, v = (torch.randn(1, 1, t, d) for _ in range(3))
    counted = count_flops(lambda: linear_attention(q, k, v, causal=True, chunk_size=c))
    assert counted == linear_attention_flops(t, d, True, c)["linear"]
    assert linear_attention_flops(4096, 64)["ratio"] < 0.05


def test_trains_in_gpt_and_rejects_bad_shapes():
    st = train_gpt(tiny_gpt(), [SwapAttention("linear")], steps=2)
    assert torch.isfinite(st.loss)
    with pytest.raises(ValueError, match="equal shape"):
        linear_attention(torch.randn(1, 1, 4, 2), torch.randn(1, 1, 5, 2), torch.randn(1, 1, 4, 2))
