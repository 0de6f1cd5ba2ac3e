import pytest
import torch
from torchvision.transforms import v2

from accel_lib.core import Batch
from accel_lib.data import MixUp, mixup_batch, sample_lam, sample_pairing


def _roll_perm(b):
    return (torch.arange(b) - 1) % b  # torchvision pairs example i with i-1 (x.roll(1, 0))


def test_matches_torchvision():
    torch.manual_seed(0)
    x, y = torch.randn(8, 3, 8, 8), torch.randint(0, 10, (8,))
    tv = v2.MixUp(alpha=0.7, num_classes=10)
    torch.manual_seed(5)
    lam = tv.make_params([x])["lam"]
    torch.manual_seed(5)
    xt, yt = tv(x, y)
    xm, ym = mixup_batch(x, y, lam, _roll_perm(8), 10)
    assert torch.allclose(xm, xt, atol=1e-6) and torch.allclose(ym, yt, atol=1e-6)


def test_identity_and_labels_sum_to_one():
    x, y = torch.randn(6, 5), torch.randint(0, 4, (6,))
    xm, ym = mixup_batch(x, y, 1.0, torch.randperm(6), 4)
    assert torch.equal(xm, x) and torch.equal(ym.argmax(1), y)
    xm, ym = mixup_batch(x, y, 0.3, torch.randperm(6), 4)
    assert torch.allclose(ym.sum(1), torch.ones(6))


def test_beta_draw_statistics():
    g = torch.Generator().manual_seed(0)
    for alpha in (0.2, 1.0, 4.0):
        lams = torch.tensor([sample_lam(alpha, g) for _ in range(4000)])
        var = 1.0 / (4 * (2 * alpha + 1))  # variance of Beta(a, a)
        assert abs(lams.mean().item() - 0.5) < 4 * (var / 4000) ** 0.5
        assert abs(lams.var().item() - var) < 0.15 * var
        assert 0.0 <= lams.min() and lams.max() <= 1.0
    # alpha = 1 is uniform: Kolmogorov-Smirnov distance to the uniform CDF
    lams = torch.tensor([sample_lam(1.0, g) for _ in range(4000)]).sort().values
    ks = (lams - torch.arange(1, 4001) / 4000).abs().max().item()
    assert ks < 1.63 / 4000 ** 0.5  # the 1% critical value


def test_draws_are_reproducible():
    a = [sample_lam(0.5, torch.Generator().manual_seed(3)) for _ in range(2)]
    assert a[0] == a[1]
    assert torch.equal(sample_pairing(10, torch.Generator().manual_seed(1)),
                       sample_pairing(10, torch.Generator().manual_seed(1)))


def test_technique_and_bad_input():
    t = MixUp(alpha=1.0, num_classes=3)
    b = t.on_batch(Batch(torch.randn(4, 3, 4, 4), torch.tensor([0, 1, 2, 0])), None)
    assert b.y.shape == (4, 3) and torch.allclose(b.y.sum(1), torch.ones(4))
    x, y = torch.randn(4, 2), torch.tensor([0, 1, 2, 3])
    with pytest.raises(ValueError, match="lam must be in"):
        mixup_batch(x, y, 1.5, torch.arange(4), 4)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
        mixup_batch(x, y, 0.5, torch.arange(4), 3)
    with pytest.raises(ValueError, match="perm must be"):
        mixup_batch(x, y, 0.5, torch.arange(3), 4)
    with pytest.raises(TypeError, match="normalise uint8"):
        mixup_batch(torch.zeros(4, 2, dtype=torch.uint8), y, 0.5, torch.arange(4), 4)
    with pytest.raises(ValueError, match="alpha must be > 0"):
        MixUp(alpha=0)
