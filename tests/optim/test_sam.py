import pytest
import torch

from accel_lib.core import Budget, ImageLoader, train
from accel_lib.optim.sam import SAM, sam_perturbation
from tests.conftest import tiny_images


def _quadratic_step(opt_factory, w0, a):
    w = torch.nn.Parameter(w0.clone())
    opt = opt_factory([w])

    def closure():
        opt.zero_grad()
        loss = 0.5 * w @ a @ w
        loss.backward()
        return loss
    closure()
    opt.step(closure)
    return w.detach()


def test_closed_form_on_a_quadratic():
    a = torch.diag(torch.tensor([1.0, 4.0, 9.0]))
    w0 = torch.tensor([1.0, -1.0, 0.5])
    lr, rho = 0.1, 0.2
    g = a @ w0
    e = rho * g / g.norm()
    expect = w0 - lr * (a @ (w0 + e))
    got = _quadratic_step(lambda p: SAM(p, torch.optim.SGD, rho=rho, lr=lr), w0, a)
    assert torch.allclose(got, expect, atol=1e-6)


def test_rho_zero_is_the_base_optimizer():
    a = torch.diag(torch.tensor([1.0, 4.0]))
    w0 = torch.tensor([1.0, 2.0])
    got = _quadratic_step(lambda p: SAM(p, torch.optim.SGD, rho=0.0, lr=0.1, momentum=0.9), w0, a)
    assert torch.allclose(got, w0 - 0.1 * a @ w0)
    e = sam_perturbation([torch.tensor([3.0]), torch.tensor([4.0])], rho=1.0)
    assert torch.allclose(torch.cat(e), torch.tensor([0.6, 0.8]))


def test_in_the_loop_doubles_the_passes_and_schedules_reach_the_base():
    x, y = tiny_images(64, 8)
    calls = []
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(192, 10))
    net.register_forward_hook(lambda *a: calls.append(1))
    holder = {}

    def make(p):
        holder["o"] = SAM(p, torch.optim.SGD, rho=0.05, lr=0.1)
        return holder["o"]
    train(net, ImageLoader(x, y, 16), budget=Budget(3, "steps"), optimizer=make, device="cpu",
          lr_schedule=lambda p: 1 - p)
    assert len(calls) == 6                                   # two forward passes per step
    assert holder["o"].base.param_groups[0]["lr"] == pytest.approx(0.1 * (1 - 2 / 3))


def test_bad_arguments():
    with pytest.raises(ValueError, match="rho"):
        SAM([torch.nn.Parameter(torch.zeros(2))], rho=-1.0, lr=0.1)
    opt = SAM([torch.nn.Parameter(torch.zeros(2))], lr=0.1)
    with pytest.raises(ValueError, match="closure"):
        opt.step()
