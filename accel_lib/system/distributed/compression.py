"""Communication compression: send fewer gradient bytes (top-k with error feedback, PowerSGD) or communicate less often (local SGD).

Speeds up: communication time in data parallelism when the network, not compute, is the
bottleneck: top-k sends k of n entries (values and indices), PowerSGD sends two thin factors
(n + m) r instead of an n x m matrix, local SGD averages the weights every H steps instead of the
gradients every step. Error feedback adds what compression dropped to the next step's gradient,
so nothing is lost for good.
Paper: Stich, Cordonnier & Jaggi, "Sparsified SGD with Memory", NeurIPS 2018 (top-k with error
feedback); Vogels, Karimireddy & Jaggi, "PowerSGD", NeurIPS 2019; Lin et al., "Don't Use Large
Mini-Batches, Use Local SGD", ICLR 2020; Tang et al., "1-bit Adam", ICML 2021.
Reference: DDP's ``powerSGD_hook`` communication hook and ``PeriodicModelAverager``
(tests/system/distributed/test_compression.py::test_local_sgd_matches_periodic_model_averager).
Caveats: compression costs compute (top-k selection, QR) and only pays when the link is slow
compared with the GPU; on one machine (shared memory, or NVLink) it usually loses. Top-k's
all-gather grows with N. Low ranks slow convergence a little, which the page measures.
Book: book/distributed/compression.ipynb
"""
from __future__ import annotations

import copy
import time
from typing import Optional

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

__all__ = ["topk_sparsify", "TopKCompressor", "orthogonalize", "PowerSGDCompressor", "LocalSGD",
           "check_compression", "train_compressed"]


def topk_sparsify(t: torch.Tensor, k: int) -> tuple:
    """The ``k`` entries of largest magnitude of ``t`` (flattened): ``(values, int32 indices)``."""
    flat = t.reshape(-1)
    if not 1 <= k <= flat.numel():
        raise ValueError(f"k must be between 1 and the number of entries {flat.numel()}, got {k}.")
    idx = flat.abs().topk(k, sorted=False).indices
    return flat[idx], idx.to(torch.int32)


class TopKCompressor:
    """After backward, replace every gradient by the average over ranks of each rank's top-k
    entries (``ratio`` of them) of gradient + error; the error keeps what was not sent."""

    def __init__(self, ratio: float = 0.01, error_feedback: bool = True) -> None:
        if not 0 < ratio <= 1:
            raise ValueError(f"ratio must be in (0, 1], got {ratio}.")
        self.ratio, self.error_feedback = ratio, error_feedback
        self.errors: dict = {}
        self.last_sent: dict = {}  # the sparse tensor this rank contributed at the last step
        self.bytes_sent = 0

    @torch.no_grad()
    def reduce(self, model: nn.Module) -> None:
        n = dist.get_world_size()
        for p in model.parameters():
            if p.grad is None:
                continue
            g = p.grad
            e = g + self.errors[p] if self.error_feedback and p in self.errors else g.clone()
            k = max(1, int(round(self.ratio * e.numel())))
            vals, idx = topk_sparsify(e, k)
            sent = torch.zeros_like(e).view(-1)
            sent[idx.long()] = vals
            self.last_sent[p] = sent.view_as(e)
            if self.error_feedback:
                self.errors[p] = e - self.last_sent[p]
            all_v = [torch.empty_like(vals) for _ in range(n)]
            all_i = [torch.empty_like(idx) for _ in range(n)]
            dist.all_gather(all_v, vals)
            dist.all_gather(all_i, idx)
            self.bytes_sent += (n - 1) * (vals.numel() * vals.element_size() + idx.numel() * idx.element_size())
            dense = torch.zeros(g.numel(), dtype=g.dtype)
            for v, i in zip(all_v, all_i):
                dense.index_add_(0, i.long(), v)
            p.grad.copy_(dense.view_as(g).div_(n))


def orthogonalize(p: torch.Tensor) -> torch.Tensor:
    """Orthonormal columns spanning the columns of ``p`` (n, r), by a reduced QR."""
    return torch.linalg.qr(p, mode="reduced").Q


class PowerSGDCompressor:
    """PowerSGD (Vogels et al., 2019), one power iteration per step with warm start and error
    feedback. For every gradient with 2+ dimensions, viewed as M (n, m): P = M Q, all-reduce P,
    orthogonalise, Q = M^T P, all-reduce Q, and use P Q^T (rank ``rank``) as the averaged
    gradient. Vectors (biases, norms) are all-reduced uncompressed. Q starts from a random matrix
    that is the same on every rank (``seed``)."""

    def __init__(self, rank: int = 2, error_feedback: bool = True, warm_start: bool = True, seed: int = 0) -> None:
        if rank < 1:
            raise ValueError("rank must be >= 1.")
        self.rank, self.error_feedback, self.warm_start = rank, error_feedback, warm_start
        self.gen = torch.Generator().manual_seed(seed)
        self.qs: dict = {}
        self.errors: dict = {}
        self.bytes_sent = 0.0  # ring-formula bytes per rank

    def _ar(self, t: torch.Tensor) -> None:
        n = dist.get_world_size()
        dist.all_reduce(t)
        t.div_(n)
        self.bytes_sent += 2 * (n - 1) / n * t.numel() * t.element_size()

    @torch.no_grad()
    def reduce(self, model: nn.Module) -> None:
        for p in model.parameters():
            if p.grad is None:
                continue
            g = p.grad
            if g.dim() < 2:
                self._ar(g)
                continue
            m = g.reshape(g.shape[0], -1)
            if self.error_feedback and p in self.errors:
                m = m + self.errors[p]
            r = min(self.rank, *m.shape)
            if p not in self.qs or not self.warm_start:
                self.qs[p] = torch.randn(m.shape[1], r, generator=self.gen, dtype=m.dtype)
            q = self.qs[p]
            pm = m @ q                      # (n, r)
            self._ar(pm)
            pm = orthogonalize(pm)
            q = m.t() @ pm                  # (m, r)
            self._ar(q)
            self.qs[p] = q
            approx = pm @ q.t()             # (n, m): the rank-r average
            if self.error_feedback:
                self.errors[p] = m - approx
            g.copy_(approx.view_as(g))


class LocalSGD:
    """Local SGD: each rank steps on its own data; every ``period`` steps the weights are averaged
    (one all-reduce of the weights instead of one of the gradients per step)."""

    def __init__(self, model: nn.Module, period: int = 4) -> None:
        if period < 1:
            raise ValueError("period must be >= 1.")
        self.model, self.period, self.steps, self.bytes_sent = model, period, 0, 0.0

    @torch.no_grad()
    def after_step(self) -> None:
        """Call after every optimizer step: averages after steps 1, 1 + period, 1 + 2 period, ...
        (the convention of ``PeriodicModelAverager`` with no warm-up)."""
        self.steps += 1
        if (self.steps - 1) % self.period:
            return
        n = dist.get_world_size()
        for p in self.model.parameters():
            dist.all_reduce(p.data)
            p.data.div_(n)
            self.bytes_sent += 2 * (n - 1) / n * p.numel() * p.element_size()


# ------------------------------------------------------------------------------------------------
# Workers
# ------------------------------------------------------------------------------------------------

def _mlp(seed: int, d_in: int = 16, width: int = 32) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(d_in, width), nn.GELU(), nn.Linear(width, 10))


def check_compression(seed: int = 0) -> dict:
    """Worker: PowerSGD is exact on gradients whose average has rank <= r; top-k with k = n is an
    exact all-reduce and error feedback conserves what was not sent; local SGD with period 1 equals
    DDP with plain SGD and with period 3 equals ``PeriodicModelAverager``; DDP's built-in PowerSGD
    hook runs and reports its compression."""
    from torch.distributed.algorithms.ddp_comm_hooks import powerSGD_hook as psgd
    from torch.distributed.algorithms.model_averaging.averagers import PeriodicModelAverager
    from torch.nn.parallel import DistributedDataParallel as DDP
    r, n = dist.get_rank(), dist.get_world_size()
    out: dict = {}
    g = torch.Generator().manual_seed(seed + r)
    # 1. low-rank gradients: each rank's gradient is a random rank-1 matrix, so their average has
    # rank <= N, and PowerSGD of rank N reproduces it exactly
    lin = nn.Linear(12, 8, bias=False)
    u, v = torch.randn(8, 1, generator=g), torch.randn(12, 1, generator=g)
    lin.weight.grad = u @ v.t()
    want = lin.weight.grad.clone()
    dist.all_reduce(want)
    want /= n
    lowrank = PowerSGDCompressor(rank=n)
    lowrank.reduce(lin)
    out["powersgd_lowrank_diff"] = float((lin.weight.grad - want).abs().max())
    out["powersgd_bytes"] = lowrank.bytes_sent
    # 2. top-k: k = n is exact; error feedback conserves the sum
    m = _mlp(seed)
    for p in m.parameters():
        p.grad = torch.randn(p.shape, generator=g)
    want = [p.grad.clone() for p in m.parameters()]
    for w in want:
        dist.all_reduce(w)
        w /= n
    TopKCompressor(ratio=1.0).reduce(m)
    out["topk_full_diff"] = max(float((p.grad - w).abs().max()) for p, w in zip(m.parameters(), want))
    comp = TopKCompressor(ratio=0.1)
    grad_sum = [torch.zeros_like(p) for p in m.parameters()]
    sent_sum = [torch.zeros_like(p) for p in m.parameters()]
    nonzeros = []
    for _ in range(3):
        for p, gs in zip(m.parameters(), grad_sum):
            p.grad = torch.randn(p.shape, generator=g)
            gs += p.grad
        comp.reduce(m)
        for p, ss in zip(m.parameters(), sent_sum):
            ss += comp.last_sent[p]
            nonzeros.append((int((comp.last_sent[p] != 0).sum()), max(1, round(0.1 * p.numel()))))
    # error feedback: everything this rank was given is either sent by now or still in its error
    out["topk_conservation"] = max(float((gs - ss - comp.errors[p]).abs().max())
                                   for p, gs, ss in zip(m.parameters(), grad_sum, sent_sum))
    out["topk_nonzeros_ok"] = all(a_ == b_ for a_, b_ in nonzeros)
    nparams = sum(p.numel() for p in m.parameters())
    out["topk_bytes_per_step"] = comp.bytes_sent / 3
    out["dense_bytes_per_step"] = 2 * (n - 1) / n * nparams * 4
    # 3. local SGD: period 1 equals DDP with SGD; period 3 equals PeriodicModelAverager
    base = _mlp(seed)

    def batch(s):
        gg = torch.Generator().manual_seed(500 + 7 * s + r)
        return torch.randn(8, 16, generator=gg), torch.randint(0, 10, (8,), generator=gg)
    ddp = DDP(copy.deepcopy(base))
    local1 = copy.deepcopy(base)
    local3, avg3 = copy.deepcopy(base), copy.deepcopy(base)
    opts = [torch.optim.SGD(x.parameters(), lr=0.1) for x in (ddp, local1, local3, avg3)]
    ls1, ls3 = LocalSGD(local1, 1), LocalSGD(local3, 3)
    averager = PeriodicModelAverager(period=3, warmup_steps=0)
    for s in range(6):
        x, y = batch(s)
        for mdl, o in zip((ddp, local1, local3, avg3), opts):
            o.zero_grad()
            F.cross_entropy(mdl(x), y).backward()
            o.step()
        ls1.after_step()
        ls3.after_step()
        averager.average_parameters(avg3.parameters())
    out["local_sgd_1_vs_ddp"] = max(float((a - b).detach().abs().max()) for a, b in zip(local1.parameters(), ddp.parameters()))
    out["local_sgd_3_vs_averager"] = max(float((a - b).detach().abs().max()) for a, b in zip(local3.parameters(), avg3.parameters()))
    # 4. DDP's built-in PowerSGD hook on the same model
    hooked = DDP(copy.deepcopy(base))
    state = psgd.PowerSGDState(process_group=None, matrix_approximation_rank=1, start_powerSGD_iter=2,
                               min_compression_rate=0.5)
    hooked.register_comm_hook(state, psgd.powerSGD_hook)
    o = torch.optim.SGD(hooked.parameters(), lr=0.1)
    for s in range(4):
        x, y = batch(s)
        o.zero_grad()
        F.cross_entropy(hooked(x), y).backward()
        o.step()
    out["builtin_compression_rate"] = float(state.compression_stats()[0])
    return out


def train_compressed(method: str = "ddp", steps: int = 100, per_rank: int = 64, lr: float = 0.01,
                     n_train: int = 8192, n_test: int = 2000, rank_or_ratio: float = 2, period: int = 4,
                     width: int = 256, seed: int = 0) -> dict:
    """Worker: train an MLP (3072 -> width -> 10, about 0.8M weights for width 256: communication
    heavy, compute light) on a CIFAR-10 subset for ``steps`` steps of SGD with momentum, each rank on
    its own shard, with gradient averaging by ``method``: ``"ddp"`` (dense all-reduce), ``"powersgd"``
    (ours, rank ``rank_or_ratio``), ``"ddp_powersgd"`` (DDP's hook, same rank), ``"topk"`` (ratio
    ``rank_or_ratio``) or ``"local_sgd"`` (every ``period`` steps). Returns test accuracy, final
    training loss (mean of the last 10), seconds per step and gradient bytes sent per rank per step."""
    from torch.nn.parallel import DistributedDataParallel as DDP
    from accel_lib.core import load_cifar10, normalize
    r, n = dist.get_rank(), dist.get_world_size()
    data = load_cifar10().subset(n_train, n_test, seed=seed)
    x_all = normalize(data.train_x).reshape(len(data.train_y), -1)
    y_all = data.train_y
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(3072, width), nn.GELU(), nn.Linear(width, 10))
    nbytes = sum(p.numel() * p.element_size() for p in model.parameters())
    comp: Optional[object] = None
    state = None
    if method in ("ddp", "ddp_powersgd"):
        model = DDP(model)
        if method == "ddp_powersgd":
            from torch.distributed.algorithms.ddp_comm_hooks import powerSGD_hook as psgd
            state = psgd.PowerSGDState(process_group=None, matrix_approximation_rank=int(rank_or_ratio),
                                       start_powerSGD_iter=2, min_compression_rate=0.5)
            model.register_comm_hook(state, psgd.powerSGD_hook)
    elif method == "powersgd":
        comp = PowerSGDCompressor(rank=int(rank_or_ratio), seed=seed)
    elif method == "topk":
        comp = TopKCompressor(ratio=float(rank_or_ratio))
    elif method == "local_sgd":
        comp = LocalSGD(model, period)
    else:
        raise ValueError(f"unknown method {method!r}: use ddp, ddp_powersgd, powersgd, topk or local_sgd.")
    if method not in ("ddp", "ddp_powersgd"):
        with torch.no_grad():
            for p in model.parameters():
                dist.broadcast(p.data, 0)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    g = torch.Generator().manual_seed(seed + 1000 * r)
    losses = []
    t0 = time.perf_counter()
    for s in range(steps):
        idx = torch.randint(0, len(y_all), (per_rank,), generator=g)
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x_all[idx]), y_all[idx])
        loss.backward()
        if method in ("powersgd", "topk"):
            comp.reduce(model)
        opt.step()
        if method == "local_sgd":
            comp.after_step()
        losses.append(float(loss.detach()))
    dt = (time.perf_counter() - t0) / steps
    if method == "local_sgd" and (steps - 1) % period:
        comp.period, comp.steps = 1, 0
        comp.after_step()  # end on averaged weights
    with torch.no_grad():
        net = model.module if isinstance(model, DDP) else model
        pred = net(normalize(data.test_x).reshape(len(data.test_y), -1)).argmax(1)
        acc = float((pred == data.test_y).float().mean())
    if method == "ddp":
        sent = 2 * (n - 1) / n * nbytes
    elif method == "ddp_powersgd":
        # the hook compresses the matrices (its statistics give the rate) and all-reduces vectors as they are
        rate = float(state.compression_stats()[0])
        net = model.module
        mats = sum(p.numel() for p in net.parameters() if p.dim() >= 2)
        vecs = sum(p.numel() for p in net.parameters() if p.dim() < 2)
        sent = 2 * (n - 1) / n * (mats / rate + vecs) * 4
    else:
        sent = comp.bytes_sent / steps
    return {"method": method, "accuracy": acc, "final_loss": sum(losses[-10:]) / min(10, len(losses)),
            "s_per_step": dt, "bytes_per_step": sent, "dense_bytes_per_step": 2 * (n - 1) / n * nbytes}
