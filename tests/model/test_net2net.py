import pytest
import torch

from accel_lib.model.net2net import deepen_gpt, grow_gpt, widen_gpt_mlp, widen_linear_pair
from tests.model.helpers import tiny_gpt, train_gpt


def test_widen_pair_preserves_function():
    torch.manual_seed(0)
    f1, f2 = torch.nn.Linear(5, 7), torch.nn.Linear(7, 3)
    n1, n2 = widen_linear_pair(f1, f2, 12, generator=torch.Generator().manual_seed(0))
    x = torch.randn(4, 5)
    assert n1.out_features == 12 and n2.in_features == 12
    assert torch.allclose(n2(torch.nn.functional.gelu(n1(x))), f2(torch.nn.functional.gelu(f1(x))), atol=1e-6)


def test_grown_gpt_outputs_identical():
    small = tiny_gpt(n_layer=2)
    train_gpt(small, [], steps=3)                   # a trained, non-trivial model
    small.eval()
    x = torch.randint(0, 17, (3, 16))
    big = grow_gpt(small, n_layer=5, hidden=96, generator=torch.Generator().manual_seed(0)).eval()
    assert len(big.blocks) == 5 and big.cfg.n_layer == 5 and big.blocks[0].mlp[0].out_features == 96
    assert torch.allclose(big(x), small(x), atol=1e-5)
    assert big.head.weight is big.tok.weight      # tying survives the copy
    top = deepen_gpt(small, 4, where="top").eval()
    assert torch.allclose(top(x), small(x), atol=1e-5)


def test_grown_gpt_trains_and_new_blocks_learn():
    big = deepen_gpt(tiny_gpt(n_layer=2), 4)
    st = train_gpt(big, [], steps=3)
    assert torch.isfinite(st.loss)
    assert st.model.blocks[1].attn.proj.weight.abs().sum() > 0      # the inserted block is no longer the identity


def test_noise_breaks_exactness_only_slightly():
    small = tiny_gpt(n_layer=1).eval()
    x = torch.randint(0, 17, (2, 8))
    noisy = widen_gpt_mlp(small, 80, noise=0.01, generator=torch.Generator().manual_seed(0)).eval()
    d = (noisy(x) - small(x)).abs().max().item()
    assert 0 < d < 0.05


def test_bad_arguments():
    with pytest.raises(ValueError, match="at least the current"):
        widen_linear_pair(torch.nn.Linear(2, 4), torch.nn.Linear(4, 2), 3)
    with pytest.raises(ValueError, match="expects"):
        widen_linear_pair(torch.nn.Linear(2, 4), torch.nn.Linear(5, 2), 8)
    with pytest.raises(ValueError, match="at least the current depth"):
        deepen_gpt(tiny_gpt(n_layer=3), 2)
