import pytest
import torch

from accel_lib.optim.lamb import LAMB, lamb_trust_ratio


def _run(make, steps=6, seed=0):
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))
    opt = make(net.parameters())
    g = torch.Generator().manual_seed(1)
    for _ in range(steps):
        x, y = torch.randn(8, 6, generator=g), torch.randint(0, 3, (8,), generator=g)
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
    return [p.detach() for p in net.parameters()]


def test_without_trust_ratio_equals_torch_adamw():
    kw = dict(lr=3e-3, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.05)
    a = _run(lambda p: LAMB(p, adapt=False, exclude_1d=False, **kw))
    b = _run(lambda p: torch.optim.AdamW(p, **kw))
    assert max((x - y).abs().max().item() for x, y in zip(a, b)) < 1e-6


def test_update_norm_is_lr_times_weight_norm_per_layer():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))
    before = [p.detach().clone() for p in net.parameters()]
    opt = LAMB(net.parameters(), lr=0.01, weight_decay=0.1)
    torch.nn.functional.cross_entropy(net(torch.randn(8, 6)), torch.randint(0, 3, (8,))).backward()
    opt.step()
    for p, b in zip(net.parameters(), before):
        if p.ndim > 1:
            assert ((p - b).norm() / b.norm()).item() == pytest.approx(0.01, rel=1e-4)


def test_trust_ratio_closed_form():
    assert lamb_trust_ratio(torch.tensor([3.0, 4.0]), torch.tensor([0.0, 2.0])).item() == pytest.approx(2.5)
    assert lamb_trust_ratio(torch.zeros(2), torch.ones(2)).item() == 1.0


@pytest.mark.parametrize("kw", [dict(lr=-1e-3), dict(betas=(1.0, 0.999)), dict(betas=(0.9, -0.1)),
                                dict(weight_decay=-1.0)])
def test_bad_arguments(kw):
    with pytest.raises(ValueError, match=r"must|\[0, 1\)"):
        LAMB([torch.nn.Parameter(torch.zeros(2, 2))], **kw)
