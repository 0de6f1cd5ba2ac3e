import pytest
import torch
from torchvision.transforms.v2 import functional as TF

from accel_lib.data import Cutout, cutout_batch, cutout_mask


def test_matches_torchvision_erase():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(6, 3, 12, 12)
    centers = torch.randint(0, 12, (6, 2), generator=g)
    out = cutout_batch(x, 5, centers=centers)
    for i, (cy, cx) in enumerate(centers.tolist()):
        y1, x1 = max(cy - 2, 0), max(cx - 2, 0)
        y2, x2 = min(cy - 2 + 5, 12), min(cx - 2 + 5, 12)
        ref = TF.erase(x[i], y1, x1, y2 - y1, x2 - x1, torch.tensor(0.0))
        assert torch.equal(out[i], ref)


def test_mask_area_and_identity():
    m = cutout_mask(3, 16, 16, 4, centers=torch.tensor([[8, 8], [0, 0], [15, 15]]))
    assert m[0].sum() == 16 and m[1].sum() == 4 and m[2].sum() == 9
    x = torch.randn(2, 3, 8, 8)
    assert torch.equal(cutout_batch(x, 0, torch.Generator().manual_seed(0)), x)


def test_bad_input():
    with pytest.raises(ValueError, match="size must be >= 0"):
        cutout_batch(torch.zeros(1, 3, 4, 4), -1)
    with pytest.raises(ValueError, match="image batch"):
        cutout_batch(torch.zeros(3, 4, 4), 2)
    with pytest.raises(ValueError):
        Cutout(size=-2)
