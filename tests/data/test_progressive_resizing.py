import pytest
import torch
from torchvision.transforms.v2 import functional as TF

from accel_lib.core import Batch, FastCNN, count_flops
from accel_lib.data import ProgressiveResizing, image_size, resize_batch

from tests.data._helpers import fake_state


def test_matches_torchvision_resize():
    x = torch.randn(4, 3, 32, 32)
    for s in (16, 24):
        ref = TF.resize(x, [s, s], interpolation=TF.InterpolationMode.BILINEAR, antialias=True)
        assert torch.allclose(resize_batch(x, s), ref, atol=1e-5)
    assert resize_batch(x, 32) is x


def test_schedule():
    sizes = [image_size(p / 20, 32, 0.5, 0.75, 4) for p in range(21)]
    assert sizes[0] == 16 and sizes[-1] == 32 and image_size(0.75, 32, 0.5, 0.75) == 32
    assert all(a <= b for a, b in zip(sizes, sizes[1:])) and all(s % 4 == 0 for s in sizes)


def test_claim_flops_scale_with_resolution_squared():
    model = FastCNN((16, 32, 64)).eval()
    full = count_flops(lambda: model(torch.randn(2, 3, 32, 32)))
    for s in (16, 24):
        f = count_flops(lambda: model(torch.randn(2, 3, s, s)))
        assert f / full == pytest.approx((s / 32) ** 2, rel=0.01)


def test_technique_and_bad_input():
    b = Batch(torch.randn(2, 3, 32, 32), torch.tensor([0, 1]))
    out = ProgressiveResizing(min_scale=0.5).on_batch(b, fake_state(progress=0.0))
    assert out.x.shape == (2, 3, 16, 16)
    assert ProgressiveResizing().on_batch(b, fake_state(progress=1.0)).x.shape == (2, 3, 32, 32)
    with pytest.raises(TypeError, match="float"):
        resize_batch(torch.zeros(1, 3, 8, 8, dtype=torch.uint8), 4)
    with pytest.raises(ValueError, match="min_scale"):
        ProgressiveResizing(min_scale=0.0)
    with pytest.raises(ValueError, match="image batch"):
        resize_batch(torch.zeros(3, 8, 8), 4)
