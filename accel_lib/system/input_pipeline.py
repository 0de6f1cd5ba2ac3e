"""The input pipeline: feeding the accelerator fast enough. A per-image ``DataLoader`` with worker
processes and pinned memory, a prefetcher that prepares the next batch while the current one
trains, data echoing (reuse each batch several times when loading is the bottleneck), and a
device-resident dataset (``accel_lib.core.ImageLoader``) as the fast end point.

Speeds up: wall-clock when the step waits for data: with overlap a step costs
``max(t_data, t_compute)`` instead of ``t_data + t_compute``; echoing ``e`` times divides the
data cost by ``e`` (at some cost in sample efficiency).
Paper: Choi, Passos, Shallue, Dahl, "Faster Neural Network Training with Data Echoing", 2019;
Leclerc et al., "FFCV: Accelerating Training by Removing Data Bottlenecks", CVPR 2023.
Reference: ``torch.utils.data.DataLoader(num_workers=, pin_memory=, prefetch_factor=)``
(tests/system/test_input_pipeline.py::test_dataloader_workers_same_batches).
Caveats: workers are processes: each costs start-up time and memory, and on a machine with as
many busy cores as workers they only add contention. Pinned memory and ``non_blocking`` copies
help only with a CUDA device. Echoed batches are not new data: past the bottleneck, echoing only
slows learning per step.
Book: book/system/input_pipeline.ipynb
"""
from __future__ import annotations

import queue
import threading
from typing import Any, Callable, Iterable, Iterator, Optional

import torch

from accel_lib.core import Batch
from accel_lib.core.datasets import CIFAR10_MEAN, CIFAR10_STD

__all__ = ["CifarDataset", "make_dataloader", "Prefetcher", "echo", "pipeline_step_time", "to_device"]


class CifarDataset(torch.utils.data.Dataset):
    """uint8 images ``(N, 3, H, W)`` served one at a time with a per-image random crop (padding
    ``pad``) and flip, normalised to float: the classic host-side pipeline."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, pad: int = 4, flip: bool = True, seed: int = 0) -> None:
        if x.dtype != torch.uint8 or x.dim() != 4:
            raise ValueError("CifarDataset expects uint8 images (N, C, H, W).")
        self.x, self.y, self.pad, self.flip, self.seed = x, y, pad, flip, seed
        self.mean = torch.tensor(CIFAR10_MEAN).view(3, 1, 1)
        self.std = torch.tensor(CIFAR10_STD).view(3, 1, 1)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple:
        img = self.x[i].float() / 255.0                          # (C, H, W)
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + int(i))
        if self.pad:
            h, w = img.shape[1:]
            p = torch.nn.functional.pad(img[None], (self.pad,) * 4, mode="reflect")[0]
            dy, dx = (int(v) for v in torch.randint(0, 2 * self.pad + 1, (2,), generator=g))
            img = p[:, dy:dy + h, dx:dx + w]
        if self.flip and bool(torch.rand(1, generator=g) < 0.5):
            img = img.flip(-1)
        return (img - self.mean) / self.std, self.y[i]


def make_dataloader(x: torch.Tensor, y: torch.Tensor, batch_size: int, *, workers: int = 0,
                    pin_memory: bool = False, prefetch_factor: Optional[int] = None, pad: int = 4,
                    flip: bool = True, shuffle: bool = True, seed: int = 0) -> torch.utils.data.DataLoader:
    """A ``DataLoader`` over :class:`CifarDataset` with ``workers`` processes. Each image's
    augmentation depends only on its index and ``seed``, so any worker count gives the same batches."""
    if workers < 0 or int(workers) != workers:
        raise ValueError(f"workers must be a non-negative integer, got {workers!r}.")
    if prefetch_factor is not None and workers == 0:
        raise ValueError("prefetch_factor needs workers >= 1 (the main process does not prefetch).")
    if pin_memory and not torch.cuda.is_available():
        raise ValueError("pin_memory=True only helps copies to a CUDA device and needs one; use False on CPU.")
    g = torch.Generator().manual_seed(seed)
    return torch.utils.data.DataLoader(CifarDataset(x, y, pad, flip, seed), batch_size=batch_size,
                                       shuffle=shuffle, generator=g, num_workers=workers,
                                       pin_memory=pin_memory, drop_last=True,
                                       prefetch_factor=prefetch_factor,
                                       persistent_workers=workers > 0)


def to_device(batch: Any, device: torch.device | str, non_blocking: bool = True) -> Batch:
    """A ``(x, y)`` pair or :class:`Batch` on ``device`` (asynchronous from pinned memory on CUDA)."""
    b = batch if isinstance(batch, Batch) else Batch(*batch)
    return b.to(device, non_blocking=non_blocking)


class Prefetcher:
    """Iterate ``loader`` in a background thread, ``depth`` batches ahead, copying each to
    ``device``: the next batch is prepared while the current one trains.

    On CUDA the copy runs on a side stream from pinned memory; on a CPU the thread overlaps batch
    preparation with compute only when a core is free (torch releases the GIL inside operators).
    """

    def __init__(self, loader: Iterable, device: torch.device | str = "cpu", depth: int = 2) -> None:
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}.")
        self.loader, self.device, self.depth = loader, torch.device(device), depth

    def __len__(self) -> int:
        return len(self.loader)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[Batch]:
        q: queue.Queue = queue.Queue(maxsize=self.depth)
        done = object()
        stop = threading.Event()
        stream = torch.cuda.Stream() if self.device.type == "cuda" else None

        def work() -> None:
            try:
                for b in self.loader:
                    if stop.is_set():
                        return
                    if stream is not None:
                        with torch.cuda.stream(stream):
                            b = to_device(b, self.device)
                        ev = torch.cuda.Event()
                        ev.record(stream)
                        q.put((b, ev))
                    else:
                        q.put((to_device(b, self.device), None))
                q.put((done, None))
            except BaseException as e:  # surface loader errors in the consumer
                q.put((e, None))

        t = threading.Thread(target=work, daemon=True)
        t.start()
        try:
            while True:
                item, ev = q.get()
                if item is done:
                    return
                if isinstance(item, BaseException):
                    raise item
                if ev is not None:
                    torch.cuda.current_stream().wait_event(ev)
                yield item
        finally:
            stop.set()


def echo(loader: Iterable, factor: int, transform: Optional[Callable[[Batch, int], Batch]] = None) -> Iterator[Batch]:
    """Data echoing: yield every batch of ``loader`` ``factor`` times. ``transform(batch, k)``,
    if given, is applied to the ``k``-th repeat (augmentation after the echo point, so repeats
    differ); ``factor=1`` is the plain loader."""
    if int(factor) != factor or factor < 1:
        raise ValueError(f"factor must be a positive integer, got {factor!r}.")
    for b in loader:
        b = b if isinstance(b, Batch) else Batch(*b)
        for k in range(int(factor)):
            yield transform(b, k) if transform is not None else b


def pipeline_step_time(t_data: float, t_compute: float, overlap: bool = False, echo_factor: int = 1) -> float:
    """Seconds per optimizer step for a pipeline that takes ``t_data`` per fresh batch and a model
    that takes ``t_compute`` per step: serial ``t_data/e + t_compute``; overlapped (prefetching)
    ``max(t_data/e, t_compute)``, where ``e`` is the echo factor."""
    if t_data < 0 or t_compute < 0 or echo_factor < 1:
        raise ValueError("times must be >= 0 and echo_factor >= 1.")
    d = t_data / echo_factor
    return max(d, t_compute) if overlap else d + t_compute
