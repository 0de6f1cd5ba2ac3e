import pytest
import torch
from torchvision.transforms.v2 import functional as TF

from accel_lib.core import Batch, batch_crop, batch_flip
from accel_lib.data import BatchAugment, augment_batch, batch_translate, per_image_loader, per_image_transform


def test_translate_matches_torchvision_affine():
    x = torch.randint(0, 256, (5, 3, 10, 10), dtype=torch.uint8)
    shifts = torch.tensor([[0, 0], [2, -1], [-3, 3], [1, 1], [-2, 0]])
    out = batch_translate(x, 3, shifts=shifts)
    for i, (dy, dx) in enumerate(shifts.tolist()):
        ref = TF.affine(x[i], angle=0.0, translate=[dx, dy], scale=1.0, shear=[0.0, 0.0], fill=0)
        assert torch.equal(out[i], ref)


def test_crop_and_flip_match_per_image_torchvision():
    x = torch.randint(0, 256, (6, 3, 8, 8), dtype=torch.uint8)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    out = augment_batch(x, crop_pad=2, flip=True, generator=g1)
    dy = torch.randint(0, 5, (6,), generator=g2)
    dx = torch.randint(0, 5, (6,), generator=g2)
    flips = torch.rand(6, generator=g2) < 0.5
    for i in range(6):
        ref = TF.crop(TF.pad(x[i], [2, 2, 2, 2], padding_mode="reflect"), int(dy[i]), int(dx[i]), 8, 8)
        if flips[i]:
            ref = TF.horizontal_flip(ref)
        assert torch.equal(out[i], ref)


def test_per_image_pipeline_same_distribution_of_shifts():
    # every output of the per-image pipeline is one of the crops/flips the batched one can produce
    x = torch.arange(3 * 32 * 32, dtype=torch.int64).remainder(251).to(torch.uint8).view(1, 3, 32, 32)
    t = per_image_transform(2, True)
    torch.manual_seed(0)
    a = t(x[0])
    cands = [batch_flip(batch_crop(x, 2, torch.Generator().manual_seed(s)), torch.Generator().manual_seed(s + 1))
             for s in range(400)]
    from accel_lib.core import normalize
    assert any(torch.allclose(normalize(c)[0], a, atol=1e-5) for c in cands)
    dl = per_image_loader(x.expand(8, -1, -1, -1).contiguous(), torch.zeros(8, dtype=torch.long), 4)
    xb, yb = next(iter(dl))
    assert xb.shape == (4, 3, 32, 32) and xb.dtype == torch.float32


def test_identity_and_bad_input():
    x = torch.randn(2, 3, 6, 6)
    assert torch.equal(augment_batch(x, crop_pad=0, flip=False, translate=0), x)
    assert torch.equal(batch_translate(x, 0), x)
    with pytest.raises(ValueError, match="image batch"):
        augment_batch(torch.zeros(3, 6, 6))
    with pytest.raises(ValueError, match="max_shift"):
        batch_translate(x, -1)
    with pytest.raises(TypeError, match="uint8"):
        per_image_loader(x, torch.zeros(2, dtype=torch.long), 1)
    b = BatchAugment(translate=1, flip=True).on_batch(Batch(x, torch.zeros(2, dtype=torch.long)), None)
    assert b.x.shape == x.shape
