import pytest
import torch

from accel_lib.core import Batch, Budget, ImageLoader, train
from accel_lib.optim.noise_scale import GradientNoiseScale, noise_scale_estimates
from tests.conftest import tiny_images


def test_estimator_is_unbiased_against_exact_per_example_statistics():
    # Linear regression: per-example gradients are exact, so tr(Sigma) and |G|^2 are known.
    g = torch.Generator().manual_seed(0)
    n, d = 4096, 5
    x = torch.randn(n, d, generator=g)
    y = x @ torch.randn(d, generator=g) + 0.5 * torch.randn(n, generator=g)
    w = torch.zeros(d)
    per_ex = -2 * (y - x @ w)[:, None] * x                 # d/dw (y - x.w)^2
    G = per_ex.mean(0)
    tr_sigma = per_ex.var(0, unbiased=False).sum().item()
    exact = tr_sigma / G.pow(2).sum().item()
    g2s, ss = [], []
    for _ in range(400):
        idx = torch.randint(0, n, (64,), generator=g)
        gb = per_ex[idx]
        small = gb[:16].mean(0).pow(2).sum().item()
        big = gb.mean(0).pow(2).sum().item()
        g2, s = noise_scale_estimates(small, big, 16, 64)
        g2s.append(g2)
        ss.append(s)
    est = (sum(ss) / len(ss)) / (sum(g2s) / len(g2s))
    assert est == pytest.approx(exact, rel=0.15)


def test_technique_measures_without_changing_training():
    x, y = tiny_images(128, 8)

    def net():
        torch.manual_seed(0)
        return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                                   torch.nn.Flatten(), torch.nn.Linear(4 * 36, 10))
    kw = dict(budget=Budget(4, "steps"), optimizer=lambda p: torch.optim.SGD(p, lr=0.05), device="cpu")
    base = train(net(), ImageLoader(x, y, 32), **kw)
    gns = GradientNoiseScale(every=2, parts=4, ema=0.0)
    meas = train(net(), ImageLoader(x, y, 32), techniques=[gns], **kw)
    for a, b in zip(base.model.state_dict().values(), meas.model.state_dict().values()):
        assert torch.equal(a, b)
    assert [s for s, _ in gns.history] == [0, 2]
    assert "noise_scale" in meas.extras


def test_bad_arguments():
    with pytest.raises(ValueError, match="b_small"):
        noise_scale_estimates(1.0, 0.5, 64, 64)
    with pytest.raises(ValueError, match="parts"):
        GradientNoiseScale(parts=1)
