"""torch.compile: checked backends, same outputs and gradients, graph breaks found, fusion counted."""
import pytest
import torch
from torch import nn

from accel_lib.system.compilation import (Compile, apply_compile, chain_memory_traffic, eager_op_count,
                                          elementwise_chain, graph_breaks)


def test_unknown_backend_and_cuda_graphs_on_cpu_are_refused():
    with pytest.raises(ValueError, match="available here"):
        apply_compile(nn.Linear(2, 2), backend="tensorrt-typo")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA"):
            apply_compile(nn.Linear(2, 2), mode="reduce-overhead")


def test_aot_eager_compiled_model_matches_eager():
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(8, 16), nn.GELU(), nn.Linear(16, 2))
    x = torch.randn(4, 8)
    ref = m(x)
    ref.sum().backward()
    g_ref = [p.grad.clone() for p in m.parameters()]
    m.zero_grad()
    cm = apply_compile(m, backend="aot_eager")
    out = cm(x)
    out.sum().backward()
    assert torch.allclose(out, ref, atol=1e-6)
    assert all(torch.allclose(p.grad, g, atol=1e-6) for p, g in zip(m.parameters(), g_ref))
    assert Compile(backend="aot_eager").setup_model(m, None)(x).shape == (4, 2)


def test_graph_breaks_are_found():
    def clean(x):
        return torch.relu(x) * 2

    def breaks(x):
        y = torch.relu(x)
        if y.sum().item() > 0:     # data-dependent Python control flow: a graph break
            y = y * 2
        return y + 1
    x = torch.randn(8)
    assert graph_breaks(clean, x)["breaks"] == 0
    r = graph_breaks(breaks, x)
    assert r["breaks"] >= 1 and r["graphs"] >= 2 and r["reasons"]


def test_elementwise_chain_traffic_and_op_count():
    x = torch.randn(1000)
    n = eager_op_count(elementwise_chain, x)
    assert n == 9                      # nine ATen operators, one kernel each
    t = chain_memory_traffic(elementwise_chain, x)
    assert t["fused_bytes"] == 8000 and t["ratio"] > 5


@pytest.mark.slow
def test_inductor_fuses_the_chain_into_one_kernel():
    from torch._inductor import metrics
    torch._dynamo.reset()
    metrics.reset()
    x = torch.randn(4096)
    out = apply_compile(elementwise_chain)(x)
    assert torch.allclose(out, elementwise_chain(x), atol=1e-6)
    assert metrics.generated_kernel_count == 1
