import pytest
import torch
from torchvision.ops import stochastic_depth

from accel_lib.core import count_flops
from accel_lib.model.stochastic_depth import DropBlock, StochasticDepth, drop_path, linear_drop_rates, pld_keep_schedule
from tests.model.helpers import tiny_gpt, train_gpt


@pytest.mark.parametrize("mode", ["row", "batch"])
@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
def test_drop_path_matches_torchvision(mode, p):
    x = torch.randn(16, 3, 4, 4)
    torch.manual_seed(5)
    ref = stochastic_depth(x, p, mode, training=True)
    torch.manual_seed(5)
    assert torch.equal(drop_path(x, p, True, mode), ref)
    assert torch.equal(drop_path(x, p, False, mode), stochastic_depth(x, p, mode, training=False))


def test_rates_and_schedule():
    assert linear_drop_rates(4, 0.5) == [0.125, 0.25, 0.375, 0.5]
    assert pld_keep_schedule(0.0) == 1.0
    assert pld_keep_schedule(1.0, 0.5, 10) == pytest.approx(0.5, abs=1e-4)


def test_batch_mode_skips_compute_and_is_unbiased():
    torch.manual_seed(0)
    lin = torch.nn.Linear(8, 8)

    class Res(torch.nn.Module):
        def forward(self, x):
            return x + lin(x)
    blk = DropBlock(Res(), p=0.5, mode="batch")
    blk.generator = torch.Generator().manual_seed(0)
    x = torch.randn(4, 8)
    flops = [count_flops(lambda: blk(x)) for _ in range(40)]
    assert 0 in flops and max(flops) > 0
    assert blk.skipped == flops.count(0)
    outs = torch.stack([blk(x) for _ in range(2000)]).mean(0)
    assert torch.allclose(outs, Res()(x), atol=0.15)       # E[output] = the full block
    blk.eval()
    assert torch.equal(blk(x), Res()(x))


def test_technique_on_gpt_trains_and_progressive_rates():
    t = StochasticDepth(p_last=0.5, progressive=True)
    st = train_gpt(tiny_gpt(n_layer=4), [t], steps=4)
    assert all(isinstance(b, DropBlock) for b in st.model.blocks)
    t._set(1.0)
    assert [b.p for b in st.model.blocks] == pytest.approx(linear_drop_rates(4, 0.5), abs=1e-3)
    t._set(0.0)
    assert all(b.p == 0 for b in st.model.blocks)


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        drop_path(torch.ones(2), 1.5)
    with pytest.raises(ValueError, match="blocks"):
        StochasticDepth().setup_model(torch.nn.Linear(2, 2), None)
    with pytest.raises(ValueError, match="p_last"):
        linear_drop_rates(3, 1.0)
