import math

import pytest
import torch

from accel_lib.optim.lr_range_test import geometric_lrs, lr_range_test, suggest_lr


def test_geometric_lrs_match_ExponentialLR():
    lrs = geometric_lrs(1e-4, 1.0, 50)
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1e-4)
    sch = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=(1.0 / 1e-4) ** (1 / 49))
    ref = []
    for _ in range(50):
        ref.append(opt.param_groups[0]["lr"])
        opt.step()
        sch.step()
    assert max(abs(a - b) / b for a, b in zip(lrs, ref)) < 1e-9
    assert lrs[-1] == pytest.approx(1.0)


def test_finds_divergence_of_gradient_descent_on_a_quadratic():
    # Full-batch least squares: GD diverges for lr > 2 / lambda_max of the Hessian.
    g = torch.Generator().manual_seed(0)
    x = torch.randn(256, 8, generator=g) * torch.linspace(0.2, 2.0, 8)
    w_true = torch.randn(8, 1, generator=g)
    y = x @ w_true
    h = 2 * x.T @ x / len(x)               # Hessian of mean squared error
    lr_crit = 2 / torch.linalg.eigvalsh(h).max().item()
    model = torch.nn.Linear(8, 1, bias=False)
    torch.nn.init.zeros_(model.weight)
    before = model.weight.clone()
    res = lr_range_test(model, [(x, y)], lambda p: torch.optim.SGD(p, lr=1.0), min_lr=1e-3, max_lr=100.0,
                        steps=200, smooth=0.0, loss_fn=lambda out, t: ((out - t) ** 2).sum(1))
    assert torch.equal(model.weight, before)              # the caller's model is untouched
    assert res.diverged_at is not None and res.diverged_at > lr_crit
    assert res.diverged_at < 4 * lr_crit                  # stops soon after the critical LR
    assert res.suggestion < lr_crit                       # suggests a stable LR
    assert res.suggestion > lr_crit / 100


def test_suggest_lr_on_a_synthetic_curve():
    lrs = geometric_lrs(1e-4, 1.0, 81)
    # loss falls fastest (in log lr) at lr = 1e-2, then blows up after 1e-1
    losses = [2 - math.tanh(2 * (math.log10(l) + 2)) + (50 * (l - 0.1) if l > 0.1 else 0) for l in lrs]
    assert suggest_lr(lrs, losses) == pytest.approx(1e-2, rel=0.15)


@pytest.mark.parametrize("kw", [dict(min_lr=-1.0), dict(min_lr=1.0, max_lr=0.1), dict(steps=1), dict(smooth=1.0),
                                dict(diverge=0.5)])
def test_bad_arguments(kw):
    m = torch.nn.Linear(2, 2)
    with pytest.raises(ValueError, match="must|need"):
        lr_range_test(m, [(torch.randn(4, 2), torch.randint(0, 2, (4,)))], lambda p: torch.optim.SGD(p, lr=0.1), **kw)


def test_cycles_a_loader_and_refuses_a_short_one_shot_iterator():
    from accel_lib.core import ImageLoader
    from tests.conftest import tiny_images
    x, y = tiny_images(32, 8)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(192, 10))
    opt = lambda p: torch.optim.SGD(p, lr=0.1)
    res = lr_range_test(net, ImageLoader(x, y, 8), opt, steps=12)      # 4 batches per epoch, 3 epochs
    assert len(res.lrs) == 12
    with pytest.raises(ValueError, match="ran out"):
        lr_range_test(net, ImageLoader(x, y, 8).iter_epoch(0), opt, steps=12)
