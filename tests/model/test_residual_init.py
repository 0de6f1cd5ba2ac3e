import pytest
import torch
import torchvision

from accel_lib.model.residual_init import (GatedResidual, ResidualMLP, ZeroInitResidual, activation_std_by_depth,
                                           fixup_init_, set_gates_, zero_init_resnet_)
from tests.model.helpers import tiny_gpt


def test_zero_gamma_matches_torchvision():
    torch.manual_seed(0)
    ref = torchvision.models.resnet18(zero_init_residual=True)
    torch.manual_seed(0)
    ours = torchvision.models.resnet18()
    assert zero_init_resnet_(ours) == 8
    for (n, a), (_, b) in zip(ref.state_dict().items(), ours.state_dict().items()):
        assert torch.equal(a, b), n


def test_variance_explodes_without_and_not_with_zero_init():
    torch.manual_seed(0)
    x = torch.randn(64, 32)
    m = ResidualMLP(32, width=64, depth=32)
    stds = activation_std_by_depth(m, x)
    assert stds[-1] / stds[0] > 1e3                   # Kaiming init: variance roughly doubles per block
    set_gates_(m, 0.0)
    stds0 = activation_std_by_depth(m, x)
    assert stds0[-1] == pytest.approx(stds0[0])        # the identity at init


def test_rezero_and_fixup_start_as_identity():
    torch.manual_seed(0)
    x = torch.randn(8, 16)
    for mode in ("rezero", "fixup"):
        m = ResidualMLP(16, width=16, depth=6)
        ZeroInitResidual(mode).setup_model(m, None)
        h = m.inp(x.flatten(1))
        assert torch.allclose(m.blocks(h), h)
    m = ResidualMLP(16, width=16, depth=4)
    first = m.blocks[0].branch[0].weight.detach().clone()
    fixup_init_(m)
    assert torch.allclose(m.blocks[0].branch[0].weight, first * 4 ** -0.5)


def test_gpt_zero_gamma_makes_blocks_identity():
    m = tiny_gpt()
    ZeroInitResidual("zero_gamma").setup_model(m, None)
    h = torch.randn(2, 5, 16)
    for b in m.blocks:
        assert torch.allclose(b(h), h)


def test_rezero_deep_net_trains_and_plain_does_not():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(128, 20, generator=g)
    y = (x[:, 0] > 0).long()
    losses = {}
    for gate in (1.0, 0.0):
        torch.manual_seed(0)
        m = ResidualMLP(20, width=16, depth=32, classes=2, gate=gate)
        opt = torch.optim.SGD(m.parameters(), lr=0.05)
        for _ in range(25):
            loss = torch.nn.functional.cross_entropy(m(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        losses[gate] = loss.item()
    assert losses[0.0] < 0.5
    assert not losses[1.0] < 0.69 or losses[1.0] != losses[1.0]   # diverged (nan/inf) or stuck at chance


def test_bad_mode_and_missing_blocks():
    with pytest.raises(ValueError, match="mode"):
        ZeroInitResidual("ones").setup_model(ResidualMLP(4, 4, 2), None)
    with pytest.raises(ValueError, match="no residual block"):
        ZeroInitResidual("rezero").setup_model(torch.nn.Linear(2, 2), None)
    assert isinstance(ResidualMLP(4, 4, 2).blocks[0], GatedResidual)
