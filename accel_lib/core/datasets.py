"""Real datasets: CIFAR-10 and Tiny Shakespeare, found offline or downloaded with checksums.

Where the data comes from, in order:

1. an offline folder named by ``ACCEL_DATA_DIR`` (or the ``root=`` argument) holding
   ``cifar10-jpeg.tar.gz`` / ``tinyshakespeare.txt`` (checked against their SHA-256);
2. otherwise the canonical sources: ``torchvision.datasets.CIFAR10(download=True)`` (MD5 checked
   by torchvision) and the char-rnn repository's ``input.txt`` (SHA-256 checked here).

Decoded images are cached once as a uint8 tensor under ``ACCEL_CACHE_DIR`` (default
``~/.cache/accel_lib``), never inside the repository. A dataset that cannot be found raises
:class:`DatasetNotFoundError` saying what to set: there is never random data in its place.
"""
from __future__ import annotations

import hashlib
import io
import os
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch

__all__ = ["DatasetNotFoundError", "CIFAR10_CLASSES", "ImageData", "CharData", "cache_dir",
           "load_cifar10", "load_tinyshakespeare", "CIFAR10_MEAN", "CIFAR10_STD"]

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
CIFAR10_JPEG = ("cifar10-jpeg.tar.gz", "5b81836c1e36b52580f080269f5b21b5b36fd208272cc5fc9268b35f57843fae")
SHAKESPEARE = ("tinyshakespeare.txt", "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed")
SHAKESPEARE_URL = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"


class DatasetNotFoundError(FileNotFoundError):
    """The dataset is neither in the offline folder nor downloadable."""


def cache_dir() -> Path:
    """Where decoded datasets are cached: ``$ACCEL_CACHE_DIR`` or ``~/.cache/accel_lib``."""
    d = Path(os.environ.get("ACCEL_CACHE_DIR", Path.home() / ".cache" / "accel_lib"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _offline_file(name: str, sha: str, root: Optional[str]) -> Optional[Path]:
    folder = root or os.environ.get("ACCEL_DATA_DIR")
    if not folder:
        return None
    p = Path(folder) / name
    if not p.exists():
        raise DatasetNotFoundError(
            f"{p} does not exist. ACCEL_DATA_DIR (or root=) points at {folder!r}, which must hold "
            f"{name}; fix the path, or unset ACCEL_DATA_DIR to download the canonical copy.")
    got = _sha256(p)
    if got != sha:
        raise DatasetNotFoundError(f"{p} has SHA-256 {got}, expected {sha}: the file is corrupt or "
                                   "a different version; replace it with the documented copy.")
    return p


@dataclass
class ImageData:
    """Images as uint8 ``(N, 3, H, W)`` tensors with int64 labels ``(N,)``."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    classes: tuple
    source: str

    def subset(self, n_train: Optional[int] = None, n_test: Optional[int] = None, seed: int = 0) -> "ImageData":
        """A class-balanced-in-expectation random subset (same seed, same subset)."""
        g = torch.Generator().manual_seed(seed)
        tr = torch.randperm(len(self.train_y), generator=g)[:n_train] if n_train else slice(None)
        te = torch.randperm(len(self.test_y), generator=g)[:n_test] if n_test else slice(None)
        return ImageData(self.train_x[tr], self.train_y[tr], self.test_x[te], self.test_y[te],
                         self.classes, self.source + f" (subset {n_train}/{n_test}, seed {seed})")


def _decode_cifar_tar(path: Path) -> ImageData:
    from torchvision.io import decode_jpeg
    index = {c: i for i, c in enumerate(CIFAR10_CLASSES)}
    items: dict = {"train": [], "test": []}
    with tarfile.open(path, "r:gz") as tar:
        for m in tar:
            parts = Path(m.name).parts
            if not m.isfile() or len(parts) < 3 or not m.name.endswith(".jpg"):
                continue
            split, cls = parts[-3], parts[-2]
            if split in items and cls in index:
                data = tar.extractfile(m).read()
                items[split].append((cls, parts[-1], data))
    out = {}
    for split, rows in items.items():
        rows.sort(key=lambda r: (index[r[0]], r[1]))
        raw = [torch.frombuffer(bytearray(r[2]), dtype=torch.uint8) for r in rows]
        imgs = decode_jpeg(raw, mode=__import__("torchvision").io.ImageReadMode.RGB)
        labels = torch.tensor([index[r[0]] for r in rows], dtype=torch.long)
        # The archive is sorted by class; store a fixed shuffle so that prefixes such as x[:1000]
        # are class-mixed, as in the canonical release.
        perm = torch.randperm(len(rows), generator=torch.Generator().manual_seed(0))
        out[split] = (torch.stack(imgs)[perm], labels[perm])
    if len(out["train"][1]) != 50_000 or len(out["test"][1]) != 10_000:
        raise DatasetNotFoundError(f"{path} decoded to {len(out['train'][1])} train / "
                                   f"{len(out['test'][1])} test images, expected 50000 / 10000.")
    return ImageData(*out["train"], *out["test"], CIFAR10_CLASSES, f"offline JPEG copy {path.name}")


def _download_cifar() -> ImageData:
    import torchvision
    root = cache_dir() / "torchvision"
    try:
        tr = torchvision.datasets.CIFAR10(str(root), train=True, download=True)
        te = torchvision.datasets.CIFAR10(str(root), train=False, download=True)
    except Exception as e:  # network errors come in many types
        raise DatasetNotFoundError(
            "CIFAR-10 could not be downloaded (" + type(e).__name__ + f": {e}). Offline, set "
            "ACCEL_DATA_DIR to a folder holding cifar10-jpeg.tar.gz (this repository's CI uses "
            "../shared/data).") from e

    def to_t(ds):
        return (torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous(), torch.tensor(ds.targets))
    return ImageData(*to_t(tr), *to_t(te), CIFAR10_CLASSES, "torchvision CIFAR10 (canonical)")


def load_cifar10(root: Optional[str] = None) -> ImageData:
    """CIFAR-10 as uint8 tensors: 50,000 train and 10,000 test images, 3x32x32.

    Images come in a fixed class-mixed order (the offline copy is shuffled once with seed 0), so a
    prefix such as ``train_x[:5000]`` is a fair subset.

    Decoding the offline JPEG copy takes about 10 s once; later calls load the cached tensor in
    well under a second.
    """
    off = _offline_file(*CIFAR10_JPEG, root)
    key = f"cifar10-{'jpeg-' + CIFAR10_JPEG[1][:12] + '-shuffled' if off else 'canonical'}.pt"
    cached = cache_dir() / key
    if cached.exists():
        d = torch.load(cached, weights_only=True)
        return ImageData(d["train_x"], d["train_y"], d["test_x"], d["test_y"], CIFAR10_CLASSES, d["source"])
    data = _decode_cifar_tar(off) if off else _download_cifar()
    from .checkpoint import atomic_save
    atomic_save({"train_x": data.train_x, "train_y": data.train_y, "test_x": data.test_x,
                 "test_y": data.test_y, "source": data.source}, cached)
    return data


@dataclass
class CharData:
    """A character corpus: the customary split (first 90% train, last 10% validation) with the
    vocabulary built from the whole text."""

    text: str
    chars: tuple
    train: torch.Tensor   # int64 token ids
    val: torch.Tensor

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, s: str) -> torch.Tensor:
        stoi = {c: i for i, c in enumerate(self.chars)}
        try:
            return torch.tensor([stoi[c] for c in s], dtype=torch.long)
        except KeyError as e:
            raise ValueError(f"character {e.args[0]!r} is not in the vocabulary.") from None

    def decode(self, ids) -> str:
        return "".join(self.chars[int(i)] for i in ids)


def load_tinyshakespeare(root: Optional[str] = None) -> CharData:
    """Tiny Shakespeare (1,115,394 characters, 65 symbols), split 90/10."""
    p = _offline_file(*SHAKESPEARE, root)
    if p is None:
        p = cache_dir() / SHAKESPEARE[0]
        if not p.exists():
            try:
                with urllib.request.urlopen(SHAKESPEARE_URL, timeout=30) as r:
                    raw = r.read()
            except Exception as e:
                raise DatasetNotFoundError(
                    f"Tiny Shakespeare could not be downloaded ({type(e).__name__}: {e}). Offline, "
                    "set ACCEL_DATA_DIR to a folder holding tinyshakespeare.txt.") from e
            if hashlib.sha256(raw).hexdigest() != SHAKESPEARE[1]:
                raise DatasetNotFoundError("the downloaded Tiny Shakespeare has the wrong SHA-256.")
            p.write_bytes(raw)
    text = io.open(p, encoding="utf-8").read()
    chars = tuple(sorted(set(text)))
    stoi = {c: i for i, c in enumerate(chars)}
    ids = torch.tensor([stoi[c] for c in text], dtype=torch.long)
    n = int(0.9 * len(ids))
    return CharData(text, chars, ids[:n], ids[n:])
