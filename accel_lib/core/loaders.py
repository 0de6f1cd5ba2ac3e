"""Fast in-memory loaders: the whole dataset lives on the training device as uint8, and every batch
is gathered, augmented (batched random crop and flip) and normalised there in a few tensor ops.

Each batch is a pure function of ``(seed, epoch, index)``: shuffling and augmentation draw from
generators seeded by those numbers, so a run resumed mid-epoch sees exactly the batches it would
have seen (the loop calls ``iter_epoch(epoch, start)``).
"""
from __future__ import annotations

from typing import Iterator, Optional, Sequence

import torch

from .datasets import CIFAR10_MEAN, CIFAR10_STD
from .technique import Batch

__all__ = ["batch_flip", "batch_crop", "normalize", "ImageLoader", "CharLoader", "evaluate_classifier",
           "evaluate_char_lm"]


def _check_images(x: torch.Tensor) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() != 4:
        raise ValueError(f"expected an image batch (B, C, H, W), got "
                         f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}.")


def batch_flip(x: torch.Tensor, generator: Optional[torch.Generator] = None, p: float = 0.5) -> torch.Tensor:
    """Flip each image of ``x`` (B, C, H, W) left-right with probability ``p``; one op per batch."""
    _check_images(x)
    mask = torch.rand(x.shape[0], generator=generator) < p
    return torch.where(mask.to(x.device)[:, None, None, None], x.flip(-1), x)


def batch_crop(x: torch.Tensor, pad: int, generator: Optional[torch.Generator] = None,
               mode: str = "reflect") -> torch.Tensor:
    """Random ``H x W`` crops of the ``pad``-padded batch (a random translation by up to ``pad``
    pixels), one gather for the whole batch. Equivalent to ``RandomCrop(H, padding=pad,
    padding_mode=mode)`` applied per image with the same offsets."""
    _check_images(x)
    if pad < 0:
        raise ValueError(f"pad must be >= 0, got {pad}.")
    if pad == 0:
        return x
    b, c, h, w = x.shape
    xp = torch.nn.functional.pad(x.float() if mode == "reflect" else x, (pad,) * 4, mode=mode).to(x.dtype)
    dy = torch.randint(0, 2 * pad + 1, (b,), generator=generator).to(x.device)
    dx = torch.randint(0, 2 * pad + 1, (b,), generator=generator).to(x.device)
    rows = (dy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]
    cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, None, :]
    bi = torch.arange(b, device=x.device)[:, None, None, None]
    ci = torch.arange(c, device=x.device)[None, :, None, None]
    return xp[bi, ci, rows, cols]


def normalize(x: torch.Tensor, mean: Sequence[float] = CIFAR10_MEAN, std: Sequence[float] = CIFAR10_STD,
              dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """uint8 images in [0, 255] to normalised floats."""
    m = torch.tensor(mean, device=x.device, dtype=dtype).view(1, -1, 1, 1)
    s = torch.tensor(std, device=x.device, dtype=dtype).view(1, -1, 1, 1)
    return (x.to(dtype) / 255.0 - m) / s


class ImageLoader:
    """Batches of an in-memory image dataset, augmented on the device.

    Args:
        x: uint8 images (N, C, H, W); y: labels (N,). Both are moved to ``device`` once.
        batch_size: examples per batch; the last partial batch is dropped when ``drop_last``.
        crop_pad: random-translation padding (0 disables); flip: random left-right flips.
        shuffle: a new permutation every epoch; ``seed`` fixes all randomness.
        channels_last: return batches in channels-last memory format.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, *, shuffle: bool = True,
                 crop_pad: int = 0, flip: bool = False, drop_last: bool = True, seed: int = 0,
                 device: Optional[torch.device | str] = None, channels_last: bool = False,
                 mean: Sequence[float] = CIFAR10_MEAN, std: Sequence[float] = CIFAR10_STD) -> None:
        _check_images(x)
        if x.dtype != torch.uint8:
            raise ValueError(f"ImageLoader expects uint8 images, got {x.dtype}; keep data as uint8 "
                             "and let the loader normalise.")
        if len(x) != len(y):
            raise ValueError(f"{len(x)} images but {len(y)} labels.")
        if batch_size < 1 or batch_size > len(x):
            raise ValueError(f"batch_size must be in [1, {len(x)}], got {batch_size}.")
        device = torch.device(device) if device is not None else x.device
        self.x, self.y = x.to(device), y.to(device)
        self.batch_size, self.shuffle, self.drop_last = int(batch_size), shuffle, drop_last
        self.crop_pad, self.flip, self.seed, self.channels_last = crop_pad, flip, seed, channels_last
        self.mean, self.std = mean, std
        self.epoch = 0

    @property
    def num_samples(self) -> int:
        return len(self) * self.batch_size if self.drop_last else len(self.x)

    def __len__(self) -> int:
        n = len(self.x)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def batch(self, epoch: int, index: int) -> Batch:
        """Batch ``index`` of ``epoch``: a pure function of (seed, epoch, index)."""
        n = len(self.x)
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            perm = torch.randperm(n, generator=g)
        else:
            perm = torch.arange(n)
        idx = perm[index * self.batch_size:(index + 1) * self.batch_size].to(self.x.device)
        xb = self.x[idx]
        g = torch.Generator().manual_seed((self.seed * 1_000_003 + epoch) * 100_003 + index)
        if self.crop_pad:
            xb = batch_crop(xb, self.crop_pad, g)
        if self.flip:
            xb = batch_flip(xb, g)
        xb = normalize(xb, self.mean, self.std)
        if self.channels_last:
            xb = xb.contiguous(memory_format=torch.channels_last)
        return Batch(xb, self.y[idx])

    def iter_epoch(self, epoch: int, start: int = 0) -> Iterator[Batch]:
        for i in range(start, len(self)):
            yield self.batch(epoch, i)

    def __iter__(self) -> Iterator[Batch]:
        epoch, self.epoch = self.epoch, self.epoch + 1
        return self.iter_epoch(epoch)


class CharLoader:
    """Random windows of a token stream for next-character prediction.

    An "epoch" is ``len(data) // (block_size * batch_size)`` batches (about one pass of tokens).
    ``x`` is (B, T) token ids and ``y`` the same shifted by one.
    """

    def __init__(self, data: torch.Tensor, block_size: int, batch_size: int, *, seed: int = 0,
                 device: Optional[torch.device | str] = None, batches_per_epoch: Optional[int] = None) -> None:
        if data.dim() != 1 or len(data) <= block_size + 1:
            raise ValueError(f"need a 1-D token stream longer than block_size+1={block_size + 1}.")
        self.data = data.to(device) if device is not None else data
        self.block_size, self.batch_size, self.seed = int(block_size), int(batch_size), seed
        self._len = batches_per_epoch or max(1, len(data) // (block_size * batch_size))
        self.epoch = 0

    @property
    def num_samples(self) -> int:
        return self._len * self.batch_size

    def __len__(self) -> int:
        return self._len

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def batch(self, epoch: int, index: int) -> Batch:
        g = torch.Generator().manual_seed((self.seed * 1_000_003 + epoch) * 100_003 + index)
        starts = torch.randint(0, len(self.data) - self.block_size - 1, (self.batch_size,), generator=g)
        offs = starts[:, None] + torch.arange(self.block_size + 1)
        chunk = self.data[offs.to(self.data.device)]
        return Batch(chunk[:, :-1], chunk[:, 1:])

    def iter_epoch(self, epoch: int, start: int = 0) -> Iterator[Batch]:
        for i in range(start, len(self)):
            yield self.batch(epoch, i)

    def __iter__(self) -> Iterator[Batch]:
        epoch, self.epoch = self.epoch, self.epoch + 1
        return self.iter_epoch(epoch)


@torch.no_grad()
def evaluate_classifier(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 500,
                        tta_flip: bool = False, channels_last: bool = False) -> dict:
    """Accuracy and mean loss of ``model`` on uint8 images ``x`` (normalised here).
    ``tta_flip`` averages the logits of each image and its mirror (test-time augmentation)."""
    was = model.training
    model.eval()
    dev = next(model.parameters()).device
    correct, loss, n = 0, 0.0, 0
    for i in range(0, len(x), batch_size):
        xb = normalize(x[i:i + batch_size].to(dev))
        if channels_last:
            xb = xb.contiguous(memory_format=torch.channels_last)
        yb = y[i:i + batch_size].to(dev)
        logits = model(xb).float()
        if tta_flip:
            logits = 0.5 * (logits + model(xb.flip(-1)).float())
        loss += torch.nn.functional.cross_entropy(logits, yb, reduction="sum").item()
        correct += (logits.argmax(1) == yb).sum().item()
        n += len(yb)
    model.train(was)
    return {"accuracy": correct / n, "loss": loss / n}


@torch.no_grad()
def evaluate_char_lm(model: torch.nn.Module, data: torch.Tensor, block_size: int, batch_size: int = 32,
                     batches: int = 20, seed: int = 1234) -> dict:
    """Mean next-character cross-entropy (nats) over ``batches`` fixed random windows of ``data``."""
    was = model.training
    model.eval()
    dev = next(model.parameters()).device
    loader = CharLoader(data, block_size, batch_size, seed=seed, batches_per_epoch=batches)
    total = 0.0
    for b in loader.iter_epoch(0):
        logits = model(b.x.to(dev))
        total += torch.nn.functional.cross_entropy(logits.flatten(0, 1).float(), b.y.to(dev).flatten()).item()
    model.train(was)
    return {"val_loss": total / batches}
