"""Input pipeline: workers give the same batches, prefetching keeps order, echoing repeats."""
import pytest
import torch

from accel_lib.core import Batch
from accel_lib.system.input_pipeline import (CifarDataset, Prefetcher, echo, make_dataloader,
                                             pipeline_step_time)
from tests.conftest import tiny_images


def _batches(loader):
    return [(b[0].clone(), b[1].clone()) for b in loader]


def test_dataloader_workers_same_batches():
    x, y = tiny_images(24, 8)
    a = _batches(make_dataloader(x, y, 8, workers=0, seed=3))
    b = _batches(make_dataloader(x, y, 8, workers=2, seed=3))
    assert len(a) == 3 and all(torch.equal(p[0], q[0]) and torch.equal(p[1], q[1]) for p, q in zip(a, b))


def test_dataset_augmentation_matches_torchvision_crop():
    import torchvision.transforms.v2.functional as TF
    x, y = tiny_images(4, 8)
    ds = CifarDataset(x, y, pad=2, flip=False)
    img, _ = ds[1]
    g = torch.Generator().manual_seed(1)
    dy, dx = (int(v) for v in torch.randint(0, 5, (2,), generator=g))
    ref = TF.crop(TF.pad(x[1].float() / 255, [2, 2, 2, 2], padding_mode="reflect"), dy, dx, 8, 8)
    assert torch.allclose(img, (ref - ds.mean) / ds.std, atol=1e-6)


def test_prefetcher_keeps_order_and_raises_loader_errors():
    x, y = tiny_images(32, 8)
    loader = [Batch(x[i:i + 8].float(), y[i:i + 8]) for i in range(0, 32, 8)]
    got = list(Prefetcher(loader, "cpu", depth=2))
    assert len(got) == 4 and all(torch.equal(g.x, b.x) for g, b in zip(got, loader))

    def bad():
        yield loader[0]
        raise RuntimeError("disk on fire")
    with pytest.raises(RuntimeError, match="disk on fire"):
        list(Prefetcher(bad(), "cpu"))
    with pytest.raises(ValueError, match="depth"):
        Prefetcher(loader, depth=0)


def test_echo_repeats_and_transforms():
    loader = [(torch.full((2, 1), float(i)), torch.tensor([i, i])) for i in range(3)]
    out = list(echo(loader, 2))
    assert [int(b.y[0]) for b in out] == [0, 0, 1, 1, 2, 2]
    flipped = list(echo(loader, 2, transform=lambda b, k: Batch(b.x + k, b.y)))
    assert [float(b.x[0, 0]) for b in flipped] == [0, 1, 1, 2, 2, 3]
    assert len(list(echo(loader, 1))) == 3
    with pytest.raises(ValueError, match="factor"):
        list(echo(loader, 0))


def test_pipeline_model_and_errors():
    assert pipeline_step_time(3.0, 2.0) == 5.0
    assert pipeline_step_time(3.0, 2.0, overlap=True) == 3.0
    assert pipeline_step_time(3.0, 2.0, overlap=True, echo_factor=3) == 2.0
    x, y = tiny_images(8, 8)
    with pytest.raises(ValueError, match="prefetch_factor"):
        make_dataloader(x, y, 4, prefetch_factor=2)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA"):
            make_dataloader(x, y, 4, pin_memory=True)
    with pytest.raises(ValueError, match="uint8"):
        CifarDataset(x.float(), y)
