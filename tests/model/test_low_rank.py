import pytest
import torch

from accel_lib.core import count_flops
from accel_lib.model.low_rank import LowRank, LowRankLinear, factorize_linears, low_rank_error, truncated_svd
from tests.model.helpers import tiny_gpt, train_gpt


@pytest.mark.parametrize("rank", [1, 5, 12])
def test_error_equals_tail_singular_values(rank):
    g = torch.Generator().manual_seed(0)
    w = torch.randn(20, 12, generator=g, dtype=torch.float64)
    b, a = truncated_svd(w, rank)
    s = torch.linalg.svdvals(w)
    diff = w - b @ a
    assert torch.linalg.matrix_norm(diff).item() == pytest.approx(s[rank:].square().sum().sqrt().item(), abs=1e-9)
    spec = s[rank].item() if rank < 12 else 0.0
    assert torch.linalg.matrix_norm(diff, ord=2).item() == pytest.approx(spec, abs=1e-9)
    assert low_rank_error(w, rank)["spectral"] == pytest.approx(spec, abs=1e-6)


def test_matches_svd_lowrank_reference_and_full_rank_is_exact():
    torch.manual_seed(0)
    lin = torch.nn.Linear(16, 8)
    x = torch.randn(5, 16)
    assert torch.allclose(LowRankLinear.from_linear(lin, 8)(x), lin(x), atol=1e-5)
    w = torch.randn(8, 3) @ torch.randn(3, 16) + 1e-4 * torch.randn(8, 16)   # a clear rank-3 spectrum
    u, s, v = torch.svd_lowrank(w, q=3, niter=6)
    b, a = truncated_svd(w, 3)
    assert torch.allclose(b @ a, u @ torch.diag(s) @ v.t(), atol=1e-4)


def test_parameters_and_flops():
    lin = torch.nn.Linear(256, 256, bias=False)
    low = LowRankLinear.from_linear(lin, 32)
    x = torch.randn(4, 256)
    assert sum(p.numel() for p in low.parameters()) == 32 * 512
    assert count_flops(lambda: low(x)) / count_flops(lambda: lin(x)) == pytest.approx(32 * 512 / 256 ** 2)


def test_gpt_factorisation_trains_and_skips_tied_head():
    m = tiny_gpt()
    n = factorize_linears(m, rank_ratio=0.5, min_features=16)
    assert n == 8 and isinstance(m.head, torch.nn.Linear)        # qkv, proj, mlp.0, mlp.2 of 2 blocks; tied head kept
    st = train_gpt(tiny_gpt(), [LowRank(rank_ratio=0.5, min_features=16)], steps=2)
    assert torch.isfinite(st.loss)


def test_rank_larger_than_matrix_raises():
    with pytest.raises(ValueError, match="larger than the matrix"):
        truncated_svd(torch.randn(4, 3), 4)
    with pytest.raises(ValueError, match="rank"):
        LowRankLinear(4, 3, 0)
    with pytest.raises(ValueError, match="rank_ratio"):
        factorize_linears(tiny_gpt(), rank_ratio=1.5)
