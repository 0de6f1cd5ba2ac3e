"""Data parallelism: every rank holds the whole model, takes its shard of the batch, and averages gradients.

Speeds up: wall-clock per epoch, by splitting each batch over N workers; the bucketed version
hides most of the gradient all-reduce behind the rest of the backward pass.
Paper: Li et al., "PyTorch Distributed: Experiences on Accelerating Data Parallel Training",
VLDB 2020 (buckets, overlap, ``no_sync``); Sergeev & Del Balso, "Horovod", 2018 (ring all-reduce).
Reference: ``torch.nn.parallel.DistributedDataParallel``
(tests/system/distributed/test_data_parallel.py::test_gradients_match_single_process_and_ddp).
Caveats: all ranks must start from the same weights (we broadcast rank 0's) and every parameter
must receive a gradient in every step (like DDP's default ``find_unused_parameters=False``);
BatchNorm statistics stay per rank (DDP broadcasts rank 0's buffers; use SyncBatchNorm to share
them). On a 2-core CPU the ranks compete for the cores, so the overlap gains little here.
Book: book/distributed/data_parallel.ipynb
"""
from __future__ import annotations

import contextlib
import copy
import time
from typing import Iterator, Optional

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

__all__ = ["broadcast_parameters", "allreduce_gradients", "BucketedDDP", "toy_mlp",
           "check_data_parallel", "time_data_parallel"]


def broadcast_parameters(model: nn.Module, src: int = 0) -> None:
    """Copy rank ``src``'s parameters and buffers to every rank (so all replicas start equal)."""
    with torch.no_grad():
        for t in list(model.parameters()) + list(model.buffers()):
            dist.broadcast(t.data, src)


def allreduce_gradients(model: nn.Module) -> int:
    """Naive data parallelism: after ``loss.backward()``, average every gradient over the ranks, one
    blocking all-reduce per parameter. Returns the bytes of gradient all-reduced."""
    n, nbytes = dist.get_world_size(), 0
    for p in model.parameters():
        if p.grad is not None:
            dist.all_reduce(p.grad)
            p.grad.div_(n)
            nbytes += p.grad.numel() * p.grad.element_size()
    return nbytes


class BucketedDDP(nn.Module):
    """Data parallelism with gradient buckets all-reduced *during* backward.

    Parameters are grouped, in reverse order of registration (roughly the order in which backward
    produces their gradients), into buckets of about ``bucket_cap_mb`` megabytes. A
    ``register_post_accumulate_grad_hook`` on every parameter counts the gradients that are ready;
    when a bucket is complete its gradients are flattened into one buffer and an asynchronous
    all-reduce starts while backward carries on with earlier layers. A callback queued on the
    autograd engine waits for the all-reduces at the end of backward and copies the averaged
    gradients back. Inside ``with model.no_sync():`` gradients only accumulate locally.
    """

    def __init__(self, module: nn.Module, bucket_cap_mb: float = 1.0, broadcast: bool = True) -> None:
        super().__init__()
        if not dist.is_initialized():
            raise RuntimeError("BucketedDDP needs a process group: run it in a worker started by run_workers or torchrun.")
        if bucket_cap_mb <= 0:
            raise ValueError("bucket_cap_mb must be positive.")
        self.module = module
        if broadcast:
            broadcast_parameters(module)
        params = [p for p in module.parameters() if p.requires_grad]
        cap = bucket_cap_mb * 2**20
        self.buckets: list = []
        cur: list = []
        size = 0
        for p in reversed(params):
            cur.append(p)
            size += p.numel() * p.element_size()
            if size >= cap:
                self.buckets.append(cur)
                cur, size = [], 0
        if cur:
            self.buckets.append(cur)
        self._bucket_of = {id(p): i for i, b in enumerate(self.buckets) for p in b}
        self._pending = [len(b) for b in self.buckets]
        self._works: list = []
        self._queued = False
        self.require_sync = True
        self.bytes_reduced = 0  # gradient bytes all-reduced so far (one count per all-reduce input)
        self._handles = [p.register_post_accumulate_grad_hook(self._on_grad) for p in params]

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Accumulate gradients locally (no communication) for the backward passes inside."""
        old, self.require_sync = self.require_sync, False
        try:
            yield
        finally:
            self.require_sync = old

    def _on_grad(self, p: torch.Tensor) -> None:
        if not self.require_sync:
            return
        if not self._queued:
            torch.autograd.Variable._execution_engine.queue_callback(self._finish)
            self._queued = True
        i = self._bucket_of[id(p)]
        self._pending[i] -= 1
        if self._pending[i] == 0:
            self._launch(i)

    def _launch(self, i: int) -> None:
        flat = torch.cat([p.grad.reshape(-1) for p in self.buckets[i]])
        flat.div_(dist.get_world_size())
        self.bytes_reduced += flat.numel() * flat.element_size()
        self._works.append((i, flat, dist.all_reduce(flat, async_op=True)))

    def _finish(self) -> None:
        missing = [i for i, k in enumerate(self._pending) if k > 0]
        try:
            if missing:
                raise RuntimeError(f"buckets {missing} never completed: some parameters got no gradient in "
                                   "this backward pass. BucketedDDP (like DDP's default) needs every parameter "
                                   "to be used; freeze unused ones with requires_grad_(False).")
            for i, flat, work in self._works:
                work.wait()
                off = 0
                for p in self.buckets[i]:
                    k = p.numel()
                    p.grad.copy_(flat[off:off + k].view_as(p.grad))
                    off += k
        finally:
            self._works.clear()
            self._pending = [len(b) for b in self.buckets]
            self._queued = False


# ------------------------------------------------------------------------------------------------
# Workers (importable, so that run_workers and torchrun can start them)
# ------------------------------------------------------------------------------------------------

def toy_mlp(width: int = 32, depth: int = 3, d_in: int = 16, d_out: int = 10, seed: int = 0) -> nn.Module:
    """A small MLP with a deterministic initialisation (the same on every rank for a given seed)."""
    torch.manual_seed(seed)
    layers: list = []
    d = d_in
    for _ in range(depth - 1):
        layers += [nn.Linear(d, width), nn.GELU()]
        d = width
    layers.append(nn.Linear(d, d_out))
    return nn.Sequential(*layers)


def _global_batch(n: int, d_in: int = 16, d_out: int = 10, seed: int = 1) -> tuple:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d_in, generator=g), torch.randint(0, d_out, (n,), generator=g)


def _grads(model: nn.Module) -> list:
    return [p.grad.detach().clone() for p in model.parameters()]


def _maxdiff(a: list, b: list) -> float:
    return max(float((x - y).abs().max()) for x, y in zip(a, b))


def check_data_parallel(per_rank: int = 8, steps: int = 3, seed: int = 0) -> dict:
    """Worker: gradients of naive DP, :class:`BucketedDDP` and DDP on each rank's shard of a global
    batch vs a single process on the whole batch; ``no_sync`` accumulation vs one big batch; and
    ``steps`` SGD steps of BucketedDDP vs DDP. Returns max abs differences."""
    from torch.nn.parallel import DistributedDataParallel as DDP
    r, n = dist.get_rank(), dist.get_world_size()
    base = toy_mlp(seed=seed)
    x, y = _global_batch(per_rank * n)
    sl = slice(r * per_rank, (r + 1) * per_rank)
    ref = copy.deepcopy(base)
    F.cross_entropy(ref(x), y).backward()
    want = _grads(ref)
    out: dict = {}

    naive = copy.deepcopy(base)
    F.cross_entropy(naive(x[sl]), y[sl]).backward()
    out["naive_bytes"] = allreduce_gradients(naive)
    out["naive"] = _maxdiff(_grads(naive), want)

    buck = BucketedDDP(copy.deepcopy(base), bucket_cap_mb=1e-3)  # ~1 KB: several buckets
    out["buckets"] = len(buck.buckets)
    F.cross_entropy(buck(x[sl]), y[sl]).backward()
    out["bucketed"] = _maxdiff(_grads(buck.module), want)
    out["bucketed_bytes"] = buck.bytes_reduced

    ddp = DDP(copy.deepcopy(base))
    F.cross_entropy(ddp(x[sl]), y[sl]).backward()
    out["ddp"] = _maxdiff(_grads(ddp.module), want)

    # gradient accumulation: two half-shards, the first without communication
    half = per_rank // 2
    for name, m in (("bucketed_no_sync", BucketedDDP(copy.deepcopy(base))), ("ddp_no_sync", DDP(copy.deepcopy(base)))):
        lo = r * per_rank
        with m.no_sync():
            (F.cross_entropy(m(x[lo:lo + half]), y[lo:lo + half]) / 2).backward()
        (F.cross_entropy(m(x[lo + half:lo + per_rank]), y[lo + half:lo + per_rank]) / 2).backward()
        out[name] = _maxdiff(_grads(m.module), want)

    # a few training steps: BucketedDDP and DDP stay equal
    a, b = BucketedDDP(copy.deepcopy(base), bucket_cap_mb=1e-3), DDP(copy.deepcopy(base))
    oa = torch.optim.SGD(a.parameters(), lr=0.1, momentum=0.9)
    ob = torch.optim.SGD(b.parameters(), lr=0.1, momentum=0.9)
    for s in range(steps):
        xs, ys = _global_batch(per_rank * n, seed=100 + s)
        for m, o in ((a, oa), (b, ob)):
            o.zero_grad(set_to_none=True)
            F.cross_entropy(m(xs[sl]), ys[sl]).backward()
            o.step()
    out["train_vs_ddp"] = max(float((p - q).detach().abs().max()) for p, q in zip(a.parameters(), b.parameters()))
    return out


def time_data_parallel(width: int = 1024, depth: int = 6, batch: int = 32, repeats: int = 15,
                       bucket_cap_mb: float = 4.0, seed: int = 0) -> dict:
    """Worker: seconds per training step (forward, backward, gradient averaging, SGD step) of naive
    DP, :class:`BucketedDDP` and DDP, interleaved step by step so that machine noise hits all three
    alike. Returns rank 0's medians and minima (on a shared machine the minimum is the most robust
    estimate of the intrinsic cost: load only ever adds), the gradient bytes and the bucket count."""
    from torch.nn.parallel import DistributedDataParallel as DDP
    from .launch import device
    r, dev = dist.get_rank(), device()
    base = toy_mlp(width=width, depth=depth, d_in=width, d_out=10, seed=seed).to(dev)
    ids = [dev] if dev.type == "cuda" else None
    models = {"naive": copy.deepcopy(base), "bucketed": BucketedDDP(copy.deepcopy(base), bucket_cap_mb),
              "ddp": DDP(copy.deepcopy(base), device_ids=ids, bucket_cap_mb=bucket_cap_mb)}
    opts = {k: torch.optim.SGD(m.parameters(), lr=1e-3) for k, m in models.items()}
    g = torch.Generator().manual_seed(seed + r)
    x, y = torch.randn(batch, width, generator=g).to(dev), torch.randint(0, 10, (batch,), generator=g).to(dev)

    def step(k: str) -> None:
        m, o = models[k], opts[k]
        o.zero_grad(set_to_none=True)
        F.cross_entropy(m(x), y).backward()
        if k == "naive":
            allreduce_gradients(m)
        o.step()
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    times: dict = {k: [] for k in models}
    for k in models:
        step(k)  # warm-up
    for _ in range(repeats):
        for k in models:
            dist.barrier()
            t0 = time.perf_counter()
            step(k)
            dist.barrier()
            times[k].append(time.perf_counter() - t0)
    med = {k: sorted(v)[len(v) // 2] for k, v in times.items()}
    nbytes = sum(p.numel() * p.element_size() for p in base.parameters())
    return {"median_s": med, "min_s": {k: min(v) for k, v in times.items()}, "grad_bytes": nbytes, "buckets": len(models["bucketed"].buckets),
            "times": times if r == 0 else None}
