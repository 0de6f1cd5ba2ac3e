import pytest
import torch

from accel_lib.optim.adamw import AdamW


def _run(make, steps=8):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(5, 12), torch.nn.GELU(), torch.nn.Linear(12, 3))
    opt = make(net.parameters())
    g = torch.Generator().manual_seed(2)
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(torch.randn(8, 5, generator=g)),
                                          torch.randint(0, 3, (8,), generator=g)).backward()
        opt.step()
    return [p.detach() for p in net.parameters()]


@pytest.mark.parametrize("kw", [dict(), dict(lr=1e-2, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1)])
def test_matches_torch_adamw(kw):
    a, b = _run(lambda p: AdamW(p, **kw)), _run(lambda p: torch.optim.AdamW(p, foreach=False, **kw))
    assert max((x - y).abs().max().item() for x, y in zip(a, b)) < 1e-6


@pytest.mark.parametrize("kw", [dict(lr=-1.0), dict(betas=(1.0, 0.9)), dict(betas=(0.9, 1.2)), dict(weight_decay=-1)])
def test_bad_arguments(kw):
    with pytest.raises(ValueError, match=r"must"):
        AdamW([torch.nn.Parameter(torch.zeros(2))], **kw)
