import pytest
import torch
import torch.nn.functional as F

from accel_lib.core import count_flops
from accel_lib.model.moe import MoE, MixtureOfExperts, expert_capacity, load_balancing_loss, route_tokens
from tests.model.helpers import tiny_gpt, train_gpt


def test_layer_matches_per_token_loop():
    torch.manual_seed(0)
    m = MoE(8, 16, n_experts=4, top_k=2, capacity_factor=100.0)  # no drops
    for p in (m.b1, m.b2):
        torch.nn.init.normal_(p)
    x = torch.randn(3, 5, 8)
    out = m(x)
    h = x.reshape(-1, 8)
    probs = torch.softmax(m.router(h), -1)
    ref = torch.zeros_like(h)
    for i in range(len(h)):
        g, e = probs[i].topk(2)
        g = g / g.sum()
        for gj, ej in zip(g, e):
            ref[i] += gj * (F.gelu(h[i] @ m.w1[ej] + m.b1[ej]) @ m.w2[ej] + m.b2[ej])
    assert torch.allclose(out.reshape(-1, 8), ref, atol=1e-5)
    assert m.dropped == 0.0


def test_capacity_limits_tokens_per_expert():
    logits = torch.zeros(10, 2)
    logits[:, 0] = 1.0                                   # everyone prefers expert 0
    r = route_tokens(logits, 1, capacity=expert_capacity(10, 2, 1, 1.0))
    assert expert_capacity(10, 2, 1, 1.0) == 5
    assert int(r.keep.sum()) == 5 and r.keep[:5].all() and not r.keep[5:].any()
    assert r.slot[:, 0].tolist() == list(range(10))


def test_load_balancing_loss_values():
    e = torch.arange(8) % 4
    uniform = torch.zeros(8, 4)
    assert load_balancing_loss(uniform, e[:, None]).item() == pytest.approx(1.0)
    skew = torch.zeros(8, 4)
    skew[:, 0] = 10.0
    assert load_balancing_loss(skew, torch.zeros(8, 1, dtype=torch.long)).item() > 3.9


def test_flops_per_token_vs_dense_of_equal_parameters():
    torch.manual_seed(0)
    d, h, e = 32, 64, 4
    moe = MoE(d, h, n_experts=e, top_k=1, capacity_factor=2.0)
    dense = torch.nn.Sequential(torch.nn.Linear(d, e * h), torch.nn.GELU(), torch.nn.Linear(e * h, d))
    assert moe.w1.numel() + moe.w2.numel() == dense[0].weight.numel() + dense[2].weight.numel()
    x = torch.randn(256, d)
    f_moe, f_dense = count_flops(lambda: moe(x)), count_flops(lambda: dense(x))
    # each kept token pays one expert (2*2*d*h) plus the router (2*d*e)
    kept = round((1 - moe.dropped) * 256)
    assert f_moe == kept * 4 * d * h + 256 * 2 * d * e
    assert f_moe / f_dense < 1 / e + 0.05


def test_technique_adds_aux_loss_and_trains():
    t = MixtureOfExperts(n_experts=2, top_k=2)
    st = train_gpt(tiny_gpt(), [t], steps=3)
    assert all(isinstance(b.mlp, MoE) for b in st.model.blocks)
    assert torch.isfinite(st.loss)


def test_bad_arguments():
    with pytest.raises(ValueError, match="top_k"):
        route_tokens(torch.zeros(3, 2), 3, 2)
    with pytest.raises(ValueError, match="capacity_factor"):
        expert_capacity(4, 2, 1, 0.0)
    with pytest.raises(ValueError, match="no GPT Block"):
        MixtureOfExperts().setup_model(torch.nn.Linear(2, 2), None)
