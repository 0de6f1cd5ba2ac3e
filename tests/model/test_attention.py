import pytest
import torch
import torch.nn.functional as F

from accel_lib.model.attention import (ATTENTION_IMPLS, SwapAttention, attention_saved_bytes_model,
                                       measure_attention_saved_bytes, naive_attention, tiled_attention)
from tests.model.helpers import tiny_gpt, train_gpt


def _qkv(t=37, tk=None, d=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    tk = tk or t
    return tuple(torch.randn(2, 3, n, d, generator=g, dtype=torch.float64, requires_grad=True)
                 for n in (t, tk, tk))


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("block", [3, 8, 64])
def test_tiled_matches_sdpa_outputs_and_gradients(causal, block):
    q, k, v = _qkv()
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    out = tiled_attention(q, k, v, causal=causal, block_size=block)
    assert torch.allclose(out, ref, atol=1e-12)
    go = torch.randn_like(ref)
    g_ref = torch.autograd.grad(ref, (q, k, v), go)
    g_out = torch.autograd.grad(out, (q, k, v), go)
    for a, b in zip(g_out, g_ref):
        assert torch.allclose(a, b, atol=1e-10)


def test_naive_matches_sdpa_and_gradcheck():
    q, k, v = _qkv(t=5, d=3)
    assert torch.allclose(naive_attention(q, k, v, causal=True),
                          F.scaled_dot_product_attention(q, k, v, is_causal=True), atol=1e-12)
    q, k, v = (z[:1, :1, :3, :2].detach().requires_grad_(True) for z in (q, k, v))
    assert torch.autograd.gradcheck(lambda a, b, c: tiled_attention(a, b, c, causal=True, block_size=2), (q, k, v))


def test_causal_with_longer_keys_matches_naive():
    q, k, v = _qkv(t=6, tk=11)   # queries are the last 6 positions of 11 keys (KV-cache style)
    assert torch.allclose(tiled_attention(q, k, v, causal=True, block_size=4),
                          naive_attention(q, k, v, causal=True), atol=1e-12)


@pytest.mark.parametrize("impl", ["naive", "tiled", "sdpa"])
@pytest.mark.parametrize("causal", [False, True])
def test_saved_bytes_match_model(impl, causal):
    for t in (32, 64):
        assert measure_attention_saved_bytes(t, impl, batch=2, heads=2, head_dim=16, causal=causal) == \
            attention_saved_bytes_model(t, impl, batch=2, heads=2, head_dim=16, causal=causal)


def test_memory_is_quadratic_vs_linear():
    naive = [measure_attention_saved_bytes(t, "naive", head_dim=16) for t in (64, 128)]
    tiled = [measure_attention_saved_bytes(t, "tiled", head_dim=16) for t in (64, 128)]
    assert naive[1] / naive[0] == 4.0 and tiled[1] / tiled[0] == 2.0


def test_swap_attention_keeps_gpt_function():
    m = tiny_gpt()
    x = torch.randint(0, 17, (2, 16))
    ref = m(x)
    for impl in ("naive", "tiled", "sdpa"):
        SwapAttention(impl, block_size=4).setup_model(m, None)
        assert torch.allclose(m(x), ref, atol=1e-5), impl
    st = train_gpt(tiny_gpt(), [SwapAttention("tiled", block_size=8)], steps=2)
    assert st.counters.step == 2


def test_bad_inputs_raise():
    q = torch.randn(1, 2, 4, 8)
    with pytest.raises(ValueError, match="incompatible"):
        tiled_attention(q, torch.randn(1, 2, 4, 7), q)
    with pytest.raises(ValueError, match=r"\(B, H, T, D\)"):
        naive_attention(q[0], q[0], q[0])
    with pytest.raises(ValueError, match="block_size"):
        tiled_attention(q, q, q, block_size=0)
    with pytest.raises(ValueError, match="unknown impl"):
        attention_saved_bytes_model(8, "flash3")
    with pytest.raises(ValueError, match="no CausalSelfAttention"):
        SwapAttention("sdpa").setup_model(torch.nn.Linear(2, 2), None)
    assert set(ATTENTION_IMPLS) == {"naive", "tiled", "sdpa"}
