import pytest
import torch

from accel_lib.optim.adafactor import Adafactor, factored_second_moment, optimizer_state_bytes


def _run(make, steps=8):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                              torch.nn.Linear(8 * 4 * 4, 64), torch.nn.ReLU(), torch.nn.Linear(64, 3))
    opt = make(net.parameters())
    g = torch.Generator().manual_seed(3)
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(torch.randn(8, 3, 6, 6, generator=g)),
                                          torch.randint(0, 3, (8,), generator=g)).backward()
        opt.step()
    return [p.detach() for p in net.parameters()], opt


@pytest.mark.parametrize("kw", [dict(), dict(lr=0.05, beta2_decay=-0.5, d=2.0, weight_decay=0.01)])
def test_matches_torch_adafactor(kw):
    a, _ = _run(lambda p: Adafactor(p, **kw))
    b, _ = _run(lambda p: torch.optim.Adafactor(p, foreach=False, **kw))
    assert max((x - y).abs().max().item() for x, y in zip(a, b)) < 1e-5


def test_factored_moment_is_exact_for_rank_one_squares():
    r, c = torch.rand(5, 1) + 0.1, torch.rand(1, 7) + 0.1
    v = r @ c                                           # a rank-one second moment
    est = factored_second_moment(v.mean(-1, keepdim=True), v.mean(-2, keepdim=True), 1e-30)
    assert torch.allclose(est, v, rtol=1e-5)


def test_state_memory_is_sublinear():
    _, af = _run(lambda p: Adafactor(p))
    _, aw = _run(lambda p: torch.optim.AdamW(p))
    n_params = sum(p.numel() for g in aw.param_groups for p in g["params"])
    assert optimizer_state_bytes(aw) == 2 * 4 * n_params          # two fp32 moments
    assert optimizer_state_bytes(af) < 0.1 * optimizer_state_bytes(aw)


@pytest.mark.parametrize("kw", [dict(lr=-1.0), dict(beta2_decay=0.5), dict(d=0.5)])
def test_bad_arguments(kw):
    with pytest.raises(ValueError, match="must"):
        Adafactor([torch.nn.Parameter(torch.zeros(2))], **kw)
