"""Collectives: ring all-reduce from point-to-point sends, bytes on the wire, and the alpha-beta cost model.

Speeds up: communication, by sending every byte over every link at once: a ring all-reduce moves
2(N-1)/N of the tensor per process whatever N is, where "send everything to rank 0" moves N-1 times
the tensor through rank 0's link.
Paper: Patarasuk & Yuan, "Bandwidth optimal all-reduce algorithms for clusters of workstations",
JPDC 2009; Thakur, Rabenseifner & Gropp, "Optimization of collective communication operations in
MPICH", IJHPCA 2005 (the alpha-beta costs).
Reference: ``torch.distributed.all_reduce`` / ``reduce_scatter`` / ``all_gather``
(tests/system/distributed/test_collectives.py::test_ring_matches_torch).
Caveats: teaching code: one chunk in flight per step, no pipelining of chunks, CPU tensors
through gloo; NCCL's rings and trees are far faster. Byte counts are exact for what *these*
functions send; for the built-ins we quote the ring formula, which is what NCCL's ring uses.
Book: book/distributed/collectives.ipynb
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Optional, Sequence

import torch
import torch.distributed as dist

__all__ = ["WireCounter", "ring_reduce_scatter", "ring_all_gather", "ring_all_reduce",
           "naive_all_reduce", "ring_bytes_per_rank", "alpha_beta_time", "fit_alpha_beta",
           "measure_collectives", "check_collectives", "demo_collectives"]


@dataclass
class WireCounter:
    """Bytes this rank sent and received through :func:`_send`/:func:`_recv`."""

    sent: int = 0
    received: int = 0
    messages: int = 0


def _check_group() -> tuple:
    if not dist.is_initialized():
        raise RuntimeError("no process group: call these inside a worker started by "
                           "accel_lib.system.distributed.launch.run_workers or torchrun.")
    return dist.get_rank(), dist.get_world_size()


def _exchange(send: torch.Tensor, to: int, recv: torch.Tensor, frm: int, counter: Optional[WireCounter]) -> None:
    """Send ``send`` to rank ``to`` and receive into ``recv`` from rank ``frm`` at the same time
    (non-blocking send first, so a ring of such calls cannot deadlock)."""
    req = dist.isend(send.contiguous(), to)
    dist.recv(recv, frm)
    req.wait()
    if counter is not None:
        counter.sent += send.numel() * send.element_size()
        counter.received += recv.numel() * recv.element_size()
        counter.messages += 1


def _chunks(flat: torch.Tensor, n: int) -> list:
    """``n`` views of ``flat`` of sizes differing by at most one element."""
    q, r = divmod(flat.numel(), n)
    sizes = [q + (1 if i < r else 0) for i in range(n)]
    return list(torch.split(flat, sizes))


def ring_reduce_scatter(t: torch.Tensor, counter: Optional[WireCounter] = None) -> torch.Tensor:
    """Sum ``t`` across ranks in place, but only chunk ``rank`` of its flattened view is complete
    afterwards (the other chunks hold partial sums). Returns that chunk (a view of ``t``).

    N-1 steps; at step s rank r sends chunk (r - s - 1) mod N to its right neighbour and adds the
    chunk (r - s - 2) mod N arriving from its left neighbour, so that after the last step rank r
    holds the sum of chunk r. Each rank sends (N-1)/N of the tensor.
    """
    r, n = _check_group()
    ch = _chunks(t.view(-1), n)
    right, left = (r + 1) % n, (r - 1) % n
    for s in range(n - 1):
        send_i, recv_i = (r - s - 1) % n, (r - s - 2) % n
        buf = torch.empty_like(ch[recv_i])
        _exchange(ch[send_i], right, buf, left, counter)
        ch[recv_i].add_(buf)
    return ch[r]


def ring_all_gather(t: torch.Tensor, counter: Optional[WireCounter] = None) -> torch.Tensor:
    """Complete ``t`` in place when every rank r holds a correct chunk r of its flattened view (as
    :func:`ring_reduce_scatter` leaves it). N-1 steps of passing chunks to the right."""
    r, n = _check_group()
    ch = _chunks(t.view(-1), n)
    right, left = (r + 1) % n, (r - 1) % n
    for s in range(n - 1):
        send_i, recv_i = (r - s) % n, (r - s - 1) % n
        buf = torch.empty_like(ch[recv_i])
        _exchange(ch[send_i], right, buf, left, counter)
        ch[recv_i].copy_(buf)
    return t


def ring_all_reduce(t: torch.Tensor, counter: Optional[WireCounter] = None) -> torch.Tensor:
    """Sum ``t`` over all ranks in place with a ring: reduce-scatter then all-gather, built from
    point-to-point sends only. Equal to ``dist.all_reduce(t)`` up to float rounding order."""
    if not t.is_contiguous():
        raise ValueError("ring_all_reduce works in place on a contiguous tensor; pass t.contiguous().")
    _, n = _check_group()
    if n == 1:
        return t
    ring_reduce_scatter(t, counter)
    ring_all_gather(t, counter)
    return t


def naive_all_reduce(t: torch.Tensor, counter: Optional[WireCounter] = None) -> torch.Tensor:
    """All-reduce through rank 0: everyone sends its tensor to rank 0, which sums and sends the
    result back. Rank 0's link carries 2(N-1) tensors: the bottleneck the ring removes."""
    r, n = _check_group()
    if r == 0:
        buf = torch.empty_like(t)
        for src in range(1, n):
            dist.recv(buf, src)
            t.add_(buf)
            if counter is not None:
                counter.received += buf.numel() * buf.element_size()
                counter.messages += 1
        for dst in range(1, n):
            dist.send(t, dst)
            if counter is not None:
                counter.sent += t.numel() * t.element_size()
    else:
        dist.send(t, 0)
        dist.recv(t, 0)
        if counter is not None:
            counter.sent += t.numel() * t.element_size()
            counter.received += t.numel() * t.element_size()
            counter.messages += 1
    return t


def ring_bytes_per_rank(kind: str, nbytes: int, n: int) -> float:
    """Bytes each rank sends in a ring collective on a tensor of ``nbytes`` (the full tensor for
    all-reduce/reduce-scatter input, the full output for all-gather)."""
    if n < 1:
        raise ValueError("n must be >= 1.")
    f = {"all_reduce": 2 * (n - 1) / n, "reduce_scatter": (n - 1) / n, "all_gather": (n - 1) / n,
         "broadcast": 1.0 if n > 1 else 0.0}
    if kind not in f:
        raise ValueError(f"kind must be one of {sorted(f)}, got {kind!r}.")
    return f[kind] * nbytes


def alpha_beta_time(kind: str, nbytes: float, n: int, alpha: float, beta: float) -> float:
    """Alpha-beta cost (seconds) of a ring collective: ``steps * alpha + bytes_per_rank * beta``.

    ``alpha``: latency per message (s); ``beta``: seconds per byte (1 / bandwidth).
    all-reduce: 2(N-1) steps, 2(N-1)/N bytes; reduce-scatter and all-gather: N-1 steps, (N-1)/N;
    broadcast (pipelined ring, large messages): N-1 steps, 1x the bytes. ``p2p``: 1 step, 1x.
    """
    if alpha < 0 or beta < 0:
        raise ValueError("alpha and beta must be >= 0.")
    if kind == "p2p":
        return alpha + nbytes * beta
    steps = {"all_reduce": 2 * (n - 1), "reduce_scatter": n - 1, "all_gather": n - 1, "broadcast": n - 1}
    if kind not in steps:
        raise ValueError(f"kind must be p2p or one of {sorted(steps)}, got {kind!r}.")
    return steps[kind] * alpha + ring_bytes_per_rank(kind, nbytes, n) * beta


def fit_alpha_beta(nbytes: Sequence[float], seconds: Sequence[float]) -> tuple:
    """Fit ``seconds = alpha + beta * nbytes`` (one point-to-point message per measurement) by least
    squares on the *relative* errors, so that the small messages, which carry the information about
    alpha, count as much as the large ones (a plain fit is dominated by the largest times).
    Returns ``(alpha, beta)``, both clipped at 0."""
    if len(nbytes) != len(seconds) or len(nbytes) < 2:
        raise ValueError("need at least two (nbytes, seconds) pairs of equal length.")
    x = torch.tensor(nbytes, dtype=torch.float64)
    y = torch.tensor(seconds, dtype=torch.float64)
    if (y <= 0).any():
        raise ValueError("seconds must be positive.")
    a = torch.stack([torch.ones_like(x), x], 1) / y.unsqueeze(1)   # divide each equation by its y
    sol = torch.linalg.lstsq(a, torch.ones_like(y).unsqueeze(1)).solution.squeeze(1)
    return max(0.0, float(sol[0])), max(0.0, float(sol[1]))


def _best_time(fn, repeats: int) -> float:
    """Fastest of ``repeats`` runs (each after a barrier). For a communication micro-benchmark on a
    shared machine the minimum is the cost of the operation; noise (other processes, scheduling)
    only ever adds to it."""
    ts = []
    for _ in range(repeats):
        dist.barrier()
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return min(ts)


def measure_collectives(sizes: Sequence[int] = (2**10, 2**14, 2**18, 2**20), repeats: int = 7) -> dict:
    """Worker: time, for float32 tensors of each size (elements), a ping-pong between ranks 0 and 1
    (half of it is one point-to-point message), ``dist.all_reduce``, :func:`ring_all_reduce` and
    :func:`naive_all_reduce` (fastest of ``repeats``); also count the bytes each rank sent in the two
    hand-written all-reduces. Returns a dict of lists keyed by measurement (rank 0's clock)."""
    r, n = _check_group()
    out: dict = {"sizes": list(sizes), "world_size": n, "p2p": [], "torch": [], "ring": [], "naive": [],
                 "ring_sent": [], "naive_sent": []}
    for numel in sizes:
        x = torch.randn(numel)
        buf = torch.empty_like(x)

        def pingpong() -> None:
            if r == 0:
                dist.send(x, 1)
                dist.recv(buf, 1)
            elif r == 1:
                dist.recv(buf, 0)
                dist.send(x, 0)
        for f in (pingpong, lambda: dist.all_reduce(x.clone()), lambda: ring_all_reduce(x.clone()),
                  lambda: naive_all_reduce(x.clone())):
            f()  # warm-up
        out["p2p"].append(_best_time(pingpong, repeats) / 2)
        out["torch"].append(_best_time(lambda: dist.all_reduce(x.clone()), repeats))
        out["ring"].append(_best_time(lambda: ring_all_reduce(x.clone()), repeats))
        out["naive"].append(_best_time(lambda: naive_all_reduce(x.clone()), repeats))
        c1, c2 = WireCounter(), WireCounter()
        ring_all_reduce(x.clone(), c1)
        naive_all_reduce(x.clone(), c2)
        out["ring_sent"].append(c1.sent)
        out["naive_sent"].append(c2.sent)
    return out


def check_collectives(numel: int = 1001, seed: int = 0) -> dict:
    """Worker: compare the hand-written ring collectives with torch.distributed on random tensors
    (different on every rank) and return max abs differences and bytes sent by this rank."""
    r, n = _check_group()
    g = torch.Generator().manual_seed(seed + r)
    x = torch.randn(numel, generator=g, dtype=torch.float64)
    ref = x.clone()
    dist.all_reduce(ref)
    c = WireCounter()
    mine = ring_all_reduce(x.clone(), c)
    naive_c = WireCounter()
    naive = naive_all_reduce(x.clone(), naive_c)
    # reduce-scatter then all-gather with the public pieces
    y = x.clone()
    chunk = ring_reduce_scatter(y)
    want = _chunks(ref, n)[r]
    rs_diff = float((chunk - want).abs().max())
    ring_all_gather(y)
    return {"ring_diff": float((mine - ref).abs().max()), "naive_diff": float((naive - ref).abs().max()),
            "rs_diff": rs_diff, "rs_ag_diff": float((y - ref).abs().max()),
            "ring_sent": c.sent, "ring_messages": c.messages, "naive_sent": naive_c.sent,
            "nbytes": x.numel() * x.element_size()}


def demo_collectives() -> dict:
    """Worker: what the four basic collectives return on every rank, for rank r starting from
    ``[r*N + 0, ..., r*N + N-1]`` (small integers, so the results are easy to read)."""
    r, n = _check_group()
    x = torch.arange(n, dtype=torch.float32) + r * n
    out: dict = {"input": x.tolist()}
    y = x.clone()
    dist.all_reduce(y)
    out["all_reduce"] = y.tolist()
    parts = [torch.empty(n) for _ in range(n)]
    dist.all_gather(parts, x)
    out["all_gather"] = [p.tolist() for p in parts]
    z = torch.empty(1)
    dist.reduce_scatter(z, list(x.clone().chunk(n)))
    out["reduce_scatter"] = z.tolist()
    b = x.clone()
    dist.broadcast(b, src=0)
    out["broadcast"] = b.tolist()
    return out
