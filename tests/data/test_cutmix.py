import pytest
import torch
from torchvision.transforms import v2

from accel_lib.data import CutMix, cutmix_batch, cutmix_box
from accel_lib.core import Batch


def test_matches_torchvision():
    x, y = torch.randint(0, 256, (8, 3, 16, 12), dtype=torch.uint8), torch.randint(0, 10, (8,))
    tv = v2.CutMix(alpha=1.0, num_classes=10)
    for seed in range(5):
        torch.manual_seed(seed)
        params = tv.make_params([x])
        torch.manual_seed(seed)
        xt, yt = tv(x, y)
        xc, yc = cutmix_batch(x, y, params["box"], (torch.arange(8) - 1) % 8, 10)
        assert torch.equal(xc, xt) and torch.allclose(yc, yt, atol=1e-6)


def test_box_same_draw_as_torchvision():
    # same lam and centre -> same box and lam_adjusted as torchvision's make_params
    tv = v2.CutMix(alpha=1.0, num_classes=10)
    x = torch.zeros(2, 3, 20, 30)
    torch.manual_seed(7)
    p = tv.make_params([x])
    torch.manual_seed(7)
    lam = float(tv._dist.sample(()))
    cx, cy = int(torch.randint(30, (1,))), int(torch.randint(20, (1,)))
    box, lam_adj = cutmix_box(20, 30, lam, center=(cy, cx))
    assert box == p["box"] and abs(lam_adj - p["lam_adjusted"]) < 1e-12


def test_label_weight_is_pasted_area():
    x = torch.zeros(4, 1, 10, 10)
    x[1] = 1.0
    y = torch.tensor([0, 1, 2, 3])
    perm = torch.tensor([1, 0, 3, 2])
    xc, yc = cutmix_batch(x, y, (0, 0, 5, 4), perm, 4)   # 20 of 100 pixels pasted
    assert xc[0].sum().item() == 20
    assert torch.allclose(yc[0], torch.tensor([0.8, 0.2, 0.0, 0.0]))
    _, lam = cutmix_box(10, 10, 1.0, torch.Generator().manual_seed(0))
    assert lam == 1.0  # lam = 1 pastes nothing


def test_bad_input():
    with pytest.raises(ValueError, match="image batch"):
        cutmix_batch(torch.zeros(4, 10), torch.zeros(4, dtype=torch.long), (0, 0, 1, 1), torch.arange(4), 10)
    with pytest.raises(ValueError, match="box"):
        cutmix_batch(torch.zeros(2, 1, 4, 4), torch.tensor([0, 1]), (0, 0, 5, 4), torch.arange(2), 2)
    with pytest.raises(ValueError, match="lam must be in"):
        cutmix_box(4, 4, -0.1)
    b = CutMix(num_classes=3).on_batch(Batch(torch.randn(4, 3, 8, 8), torch.tensor([0, 1, 2, 1])), None)
    assert b.x.shape == (4, 3, 8, 8) and torch.allclose(b.y.sum(1), torch.ones(4))
