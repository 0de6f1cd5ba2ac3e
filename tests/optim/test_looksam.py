import pytest
import torch

from accel_lib.optim.looksam import LookSAM, orthogonal_component
from accel_lib.optim.sam import SAM


def _run(make, steps=5):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    opt = make(net.parameters())
    g = torch.Generator().manual_seed(1)
    passes = 0
    for _ in range(steps):
        x, y = torch.randn(16, 4, generator=g), torch.randint(0, 3, (16,), generator=g)

        def closure():
            nonlocal passes
            passes += 1
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(net(x), y)
            loss.backward()
            return loss
        closure()
        opt.step(closure)
    return [p.detach().clone() for p in net.parameters()], passes, opt


def test_k1_is_sam():
    a, _, _ = _run(lambda p: LookSAM(p, rho=0.1, k=1, lr=0.1, momentum=0.9))
    b, _, _ = _run(lambda p: SAM(p, rho=0.1, lr=0.1, momentum=0.9))
    assert max((x - y).abs().max().item() for x, y in zip(a, b)) < 1e-6


def test_extra_passes_once_every_k_steps():
    _, passes, opt = _run(lambda p: LookSAM(p, k=5, lr=0.1), steps=10)
    assert opt.sam_passes == 2 and passes == 10 + 2           # SAM would need 20


def test_orthogonal_component_closed_form():
    g = [torch.tensor([1.0, 0.0])]
    gs = [torch.tensor([2.0, 3.0])]
    gv = orthogonal_component(gs, g)
    assert torch.allclose(gv[0], torch.tensor([0.0, 3.0]))


def test_reuse_step_formula():
    # second step (not a SAM step): gradient becomes g + alpha * |g| / |g_v| * g_v
    w = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    a = torch.diag(torch.tensor([1.0, 5.0]))
    opt = LookSAM([w], rho=0.5, k=2, alpha=0.7, lr=0.1)

    def closure():
        opt.zero_grad()
        (0.5 * w @ a @ w).backward()
    closure()
    opt.step(closure)
    gv = opt.state["looksam"]["g_v"][0].clone()
    w1 = w.detach().clone()
    closure()
    g = a @ w1
    expect = w1 - 0.1 * (g + 0.7 * g.norm() / gv.norm() * gv)
    opt.step(closure)
    assert torch.allclose(w.detach(), expect, atol=1e-6)


@pytest.mark.parametrize("kw", [dict(k=0), dict(rho=-0.1), dict(alpha=-1.0)])
def test_bad_arguments(kw):
    with pytest.raises(ValueError, match="must"):
        LookSAM([torch.nn.Parameter(torch.zeros(2))], lr=0.1, **kw)
