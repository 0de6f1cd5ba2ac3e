import pytest
import torch

from accel_lib.optim.muon import Muon, muon_param_groups, newton_schulz


def _run(make, steps=5):
    torch.manual_seed(0)
    w1 = torch.nn.Parameter(torch.randn(16, 8) * 0.3)
    w2 = torch.nn.Parameter(torch.randn(4, 16) * 0.3)
    opt = make([w1, w2])
    g = torch.Generator().manual_seed(4)
    for _ in range(steps):
        opt.zero_grad()
        x = torch.randn(32, 8, generator=g)
        torch.nn.functional.cross_entropy(torch.tanh(x @ w1.T) @ w2.T, torch.randint(0, 4, (32,), generator=g)).backward()
        opt.step()
    return [w1.detach(), w2.detach()]


@pytest.mark.skipif(not hasattr(torch.optim, "Muon"), reason="this torch has no torch.optim.Muon")
@pytest.mark.parametrize("nesterov", [True, False])
def test_matches_torch_muon(nesterov):
    kw = dict(lr=0.02, momentum=0.95, nesterov=nesterov, weight_decay=0.1)
    a = _run(lambda p: Muon(p, ns_dtype=torch.bfloat16, **kw))
    b = _run(lambda p: torch.optim.Muon(p, **kw))
    assert max((x - y).abs().max().item() for x, y in zip(a, b)) < 1e-6


def test_newton_schulz_orthogonalises():
    g = torch.randn(32, 64, generator=torch.Generator().manual_seed(0))
    g[:, :8] *= 50                                          # badly conditioned
    s_in = torch.linalg.svdvals(g)
    s_out = torch.linalg.svdvals(newton_schulz(g))
    assert s_in.max() / s_in.min() > 30
    assert s_out.min() > 0.6 and s_out.max() < 1.25         # all directions move about equally
    assert newton_schulz(g.T).shape == (64, 32)


def test_param_groups_and_adamw_fallback():
    net = torch.nn.ModuleDict(dict(conv=torch.nn.Conv2d(3, 4, 3), head=torch.nn.Linear(4, 2)))
    groups = muon_param_groups(net)
    names = {id(p): n for n, p in net.named_parameters()}
    assert [names[id(p)] for p in groups[0]["params"]] == ["conv.weight"]
    opt = Muon(groups)
    net["head"](net["conv"](torch.randn(2, 3, 3, 3)).flatten(1)).sum().backward()
    opt.step()
    assert "momentum_buffer" in opt.state[net["conv"].weight] and "exp_avg" in opt.state[net["conv"].bias]
    assert "exp_avg" in opt.state[net["head"].weight]
    with pytest.raises(ValueError, match="use_muon=False"):
        o = Muon([dict(params=[net["conv"].bias], use_muon=True)])
        o.step()


@pytest.mark.parametrize("kw", [dict(lr=-1.0), dict(momentum=1.0), dict(adamw_betas=(0.9, 1.0))])
def test_bad_arguments(kw):
    with pytest.raises(ValueError, match="must"):
        Muon([torch.nn.Parameter(torch.zeros(2, 2))], **kw)
