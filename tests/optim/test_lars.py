import pytest
import torch

from accel_lib.optim.lars import LARS, lars_trust_ratio


def test_trust_ratio_closed_form():
    w, g = torch.tensor([3.0, 4.0]), torch.tensor([0.0, 0.5])
    assert lars_trust_ratio(w, g, eta=0.01).item() == pytest.approx(0.01 * 5 / 0.5)
    assert lars_trust_ratio(w, g, eta=0.01, weight_decay=0.1).item() == pytest.approx(0.01 * 5 / (0.5 + 0.5))
    assert lars_trust_ratio(torch.zeros(2), g).item() == 1.0      # fresh zero layer
    assert lars_trust_ratio(w, torch.zeros(2)).item() == 1.0


def test_one_step_on_a_quadratic_matches_the_formula():
    # L(w) = 0.5 * w^T A w for two layers; the gradient is A w.
    a1, a2 = torch.diag(torch.tensor([1.0, 10.0])), torch.diag(torch.tensor([100.0, 0.1]))
    w1 = torch.nn.Parameter(torch.tensor([[1.0, -2.0]]))
    w2 = torch.nn.Parameter(torch.tensor([[0.5, 3.0]]))
    opt = LARS([w1, w2], lr=0.5, momentum=0.0, weight_decay=0.01, eta=0.02)
    loss = 0.5 * (w1 @ a1 @ w1.T + w2 @ a2 @ w2.T).sum()
    loss.backward()
    expect = []
    for w, a in ((w1, a1), (w2, a2)):
        g = (a @ w.detach().T).T
        t = 0.02 * w.norm() / (g.norm() + 0.01 * w.norm())
        expect.append(w.detach() - 0.5 * t * (g + 0.01 * w.detach()))
    opt.step()
    assert torch.allclose(w1, expect[0]) and torch.allclose(w2, expect[1])


def test_relative_update_is_the_same_for_every_layer():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(10, 50), torch.nn.ReLU(), torch.nn.Linear(50, 3))
    with torch.no_grad():
        net[2].weight.mul_(100.0)                 # layers of very different scale
    before = [p.detach().clone() for p in net.parameters()]
    opt = LARS(net.parameters(), lr=1.0, momentum=0.0, eta=0.01)
    torch.nn.functional.cross_entropy(net(torch.randn(32, 10)), torch.randint(0, 3, (32,))).backward()
    opt.step()
    for p, b in zip(net.parameters(), before):
        if p.ndim > 1:
            assert ((p - b).norm() / b.norm()).item() == pytest.approx(0.01, rel=1e-4)


def test_momentum_and_1d_exclusion_match_sgd_when_trust_is_one():
    # With exclude_1d, a 1-D parameter follows torch.optim.SGD(momentum) exactly.
    p1 = torch.nn.Parameter(torch.tensor([1.0, 2.0, 3.0]))
    p2 = torch.nn.Parameter(p1.detach().clone())
    o1 = LARS([p1], lr=0.1, momentum=0.9, weight_decay=0.1)
    o2 = torch.optim.SGD([p2], lr=0.1, momentum=0.9)
    for k in range(5):
        for p, o in ((p1, o1), (p2, o2)):
            o.zero_grad()
            (p ** 2).sum().mul(k + 1).backward()
            o.step()
    assert torch.allclose(p1, p2, atol=1e-6)


@pytest.mark.parametrize("kw", [dict(lr=-1.0), dict(momentum=1.0), dict(weight_decay=-1e-4), dict(eta=0.0)])
def test_bad_arguments(kw):
    with pytest.raises(ValueError, match="must"):
        LARS([torch.nn.Parameter(torch.zeros(2, 2))], **kw)
