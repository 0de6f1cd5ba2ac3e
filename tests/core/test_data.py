"""Datasets (offline path, checksum and error paths) and the on-device loaders."""
import os

import pytest
import torch
import torchvision.transforms.v2 as T

from accel_lib.core import (CharLoader, DatasetNotFoundError, ImageLoader, batch_crop, batch_flip,
                            load_cifar10, load_tinyshakespeare, normalize)
from tests.conftest import tiny_images


def test_cifar10_offline(cifar10):
    d = cifar10
    assert d.train_x.shape == (50000, 3, 32, 32) and d.train_x.dtype == torch.uint8
    assert d.test_x.shape == (10000, 3, 32, 32)
    assert torch.bincount(d.train_y).tolist() == [5000] * 10
    assert torch.bincount(d.test_y).tolist() == [1000] * 10
    assert 100 < d.train_x.float().mean() < 150  # real photographs, not noise or zeros
    assert torch.bincount(d.train_y[:5000], minlength=10).min() > 400  # prefixes are class-mixed
    s = d.subset(100, 50, seed=1)
    assert len(s.train_y) == 100 and len(s.test_y) == 50


def test_shakespeare_offline(shakespeare):
    c = shakespeare
    assert c.vocab_size == 65 and len(c.train) + len(c.val) == 1_115_394
    assert len(c.train) == int(0.9 * 1_115_394)
    assert c.decode(c.encode("First Citizen")) == "First Citizen"
    assert c.text.startswith("First Citizen")
    with pytest.raises(ValueError, match="not in the vocabulary"):
        c.encode("€")


def test_missing_offline_folder_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("ACCEL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ACCEL_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(DatasetNotFoundError, match="cifar10-jpeg.tar.gz.*ACCEL_DATA_DIR"):
        load_cifar10()
    with pytest.raises(DatasetNotFoundError, match="tinyshakespeare.txt"):
        load_tinyshakespeare()


def test_corrupt_file_is_refused(tmp_path, monkeypatch):
    (tmp_path / "tinyshakespeare.txt").write_text("not the real file")
    monkeypatch.setenv("ACCEL_DATA_DIR", str(tmp_path))
    with pytest.raises(DatasetNotFoundError, match="SHA-256"):
        load_tinyshakespeare()


def test_batch_crop_matches_per_image_random_crop():
    x, _ = tiny_images(6, 8)
    g = torch.Generator().manual_seed(0)
    out = batch_crop(x, 2, g)
    g = torch.Generator().manual_seed(0)
    dy = torch.randint(0, 5, (6,), generator=g)
    dx = torch.randint(0, 5, (6,), generator=g)
    padded = T.Pad(2, padding_mode="reflect")(x)
    for i in range(6):
        ref = T.functional.crop(padded[i], int(dy[i]), int(dx[i]), 8, 8)
        assert torch.equal(out[i], ref)
    assert torch.equal(batch_crop(x, 0), x)
    with pytest.raises(ValueError, match="pad must be >= 0"):
        batch_crop(x, -1)


def test_batch_flip_statistics_and_shapes():
    x, _ = tiny_images(4000, 2)
    g = torch.Generator().manual_seed(0)
    out = batch_flip(x, g)
    flipped = (out != x).flatten(1).any(1).float().mean().item()
    assert 0.45 < flipped < 0.55
    assert torch.equal(batch_flip(x, p=0.0), x) and torch.equal(batch_flip(x, p=1.0), x.flip(-1))
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        batch_flip(torch.zeros(3, 4, 4))


def test_image_loader_is_a_pure_function_of_seed_epoch_index():
    x, y = tiny_images(100, 8)
    a = ImageLoader(x, y, 10, crop_pad=2, flip=True, seed=1)
    b = ImageLoader(x, y, 10, crop_pad=2, flip=True, seed=1)
    assert torch.equal(a.batch(3, 4).x, b.batch(3, 4).x)
    assert not torch.equal(a.batch(3, 4).x, a.batch(2, 4).x)
    ep = list(a)
    assert len(ep) == 10 and a.num_samples == 100
    labels = torch.cat([bt.y for bt in ep])
    assert sorted(labels.tolist()) == sorted(y.tolist())  # an epoch is a permutation
    nx = normalize(x[:1])
    assert torch.allclose(ep[0].x.mean(), ep[0].x.mean())  # finite floats
    assert nx.dtype == torch.float32


def test_image_loader_errors():
    x, y = tiny_images(10, 8)
    with pytest.raises(ValueError, match="uint8"):
        ImageLoader(x.float(), y, 2)
    with pytest.raises(ValueError, match="10 images but 9 labels"):
        ImageLoader(x, y[:9], 2)
    with pytest.raises(ValueError, match="batch_size"):
        ImageLoader(x, y, 0)


def test_char_loader_targets_are_shifted_inputs():
    data = torch.arange(1000)
    ld = CharLoader(data, block_size=16, batch_size=4, seed=0)
    b = ld.batch(0, 0)
    assert b.x.shape == (4, 16) and torch.equal(b.y, b.x + 1)
    assert len(ld) == 1000 // 64
    with pytest.raises(ValueError, match="longer than block_size"):
        CharLoader(torch.arange(10), 16, 2)
