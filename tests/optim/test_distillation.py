import pytest
import torch
import torch.nn.functional as F

from accel_lib.core import Budget, ImageLoader, train
from accel_lib.optim.distillation import Distillation, distillation_loss
from tests.conftest import tiny_images


def test_loss_matches_the_formula_and_its_gradient():
    g = torch.Generator().manual_seed(0)
    s = torch.randn(6, 5, generator=g, requires_grad=True)
    t = torch.randn(6, 5, generator=g)
    T = 3.0
    p, q = F.softmax(t / T, -1), F.softmax(s / T, -1)
    ref = (p * (p.log() - q.log())).sum(-1) * T * T
    out = distillation_loss(s, t, T)
    assert torch.allclose(out, ref, atol=1e-6)
    out.sum().backward()
    assert torch.allclose(s.grad, T * (q - p).detach(), atol=1e-5)      # d/ds of T^2 KL = T (q - p)
    assert distillation_loss(t, t, T).abs().max() < 1e-6                 # zero when equal


def test_alpha_zero_changes_nothing_and_teacher_is_frozen():
    x, y = tiny_images(64, 8)

    def net(seed):
        torch.manual_seed(seed)
        return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(192, 10))
    teacher = net(5)
    before = [p.clone() for p in teacher.parameters()]
    kw = dict(budget=Budget(3, "steps"), optimizer=lambda p: torch.optim.SGD(p, lr=0.1), device="cpu")
    a = train(net(0), ImageLoader(x, y, 16), **kw)
    b = train(net(0), ImageLoader(x, y, 16), techniques=[Distillation(teacher, alpha=0.0)], **kw)
    c = train(net(0), ImageLoader(x, y, 16), techniques=[Distillation(teacher, alpha=0.9)], **kw)
    for pa, pb, pc in zip(a.model.parameters(), b.model.parameters(), c.model.parameters()):
        assert torch.equal(pa, pb) and not torch.equal(pa, pc)
    assert all(torch.equal(p, q) for p, q in zip(teacher.parameters(), before))


def test_bad_arguments():
    with pytest.raises(ValueError, match="teacher"):
        Distillation(None)
    with pytest.raises(ValueError, match="alpha"):
        Distillation(torch.nn.Linear(2, 2), alpha=1.5)
    with pytest.raises(ValueError, match="temperature"):
        distillation_loss(torch.zeros(2, 2), torch.zeros(2, 2), 0.0)
