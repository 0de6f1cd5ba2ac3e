"""ZeRO sharding: split optimizer state (stage 1), gradients (stage 2) and parameters (stage 3) over the data-parallel ranks.

Speeds up: memory per device, so that a model N times larger fits (or the batch grows): with Adam
in fp32 each replica of plain data parallelism holds 16 bytes per parameter (weights 4, gradients
4, two moments 8); ZeRO-3 holds 16/N, for about 1.5x the communication of data parallelism.
Paper: Rajbhandari et al., "ZeRO: Memory Optimizations Toward Training Trillion Parameter
Models", SC 2020; Zhao et al., "PyTorch FSDP", VLDB 2023.
Reference: ``torch.distributed.fsdp.fully_shard`` (FSDP2) and
``torch.distributed.optim.ZeroRedundancyOptimizer``
(tests/system/distributed/test_zero.py::test_identical_training_to_ddp).
Caveats: sharding is element-wise per parameter (FSDP2 shards dim 0 instead), which is exact only
for optimizers that act element by element (SGD, Adam, AdamW; not LAMB/LARS, whose trust ratio
needs whole-tensor norms). Stage 3 gathers each leaf module's parameters just before its forward
and again before its backward and frees them afterwards (FSDP1's storage-resize trick); it
needs every parameter used once per step. Only persistent bytes are counted (between steps):
transient gathered layers and activations come on top.
Book: book/distributed/sharding.ipynb
"""
from __future__ import annotations

import copy
import math
from typing import Callable, Optional

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

__all__ = ["ZeroDataParallel", "state_bytes", "check_zero"]


def state_bytes(optimizer: torch.optim.Optimizer) -> int:
    """Bytes of every tensor in an optimizer's state (moments, step counters), local shards only."""
    total = 0
    for st in optimizer.state.values():
        for v in st.values():
            if isinstance(v, torch.Tensor):
                t = v.to_local() if hasattr(v, "to_local") else v
                total += t.numel() * t.element_size()
    return total


class ZeroDataParallel:
    """Data parallelism with ZeRO stage 1, 2 or 3, written with plain collectives.

    Every parameter ``p`` of ``n`` elements is padded to ``N * s`` elements (``s = ceil(n / N)``);
    rank ``r`` owns elements ``[r*s, (r+1)*s)`` and the optimizer (built by ``optimizer`` on these
    shards) only keeps state for them.

    * stage 1: full weights and gradients on every rank; after backward the gradients are
      reduce-scattered, each rank updates its shard, and the shards are all-gathered into the weights.
    * stage 2: a gradient hook reduce-scatters each gradient as soon as it is accumulated and drops
      the full gradient, so only the shard's gradient persists.
    * stage 3: the full weights are freed too; each leaf module all-gathers its weights right before
      its forward (and again before its backward) and frees them after.

    Use: ``zdp = ZeroDataParallel(model, stage, lambda ps: torch.optim.AdamW(ps, lr=1e-3))``, then per
    step ``zdp.zero_grad(); loss_fn(zdp(x), y).backward(); zdp.step()``.
    """

    def __init__(self, model: nn.Module, stage: int, optimizer: Callable[[list], torch.optim.Optimizer],
                 broadcast: bool = True) -> None:
        if stage not in (1, 2, 3):
            raise ValueError(f"stage must be 1, 2 or 3, got {stage!r}.")
        if not dist.is_initialized():
            raise RuntimeError("ZeroDataParallel needs a process group: run it in a worker started by "
                               "run_workers or torchrun.")
        self.model, self.stage = model, stage
        self.rank, self.world = dist.get_rank(), dist.get_world_size()
        n_ranks = self.world
        self.params = [p for p in model.parameters() if p.requires_grad]
        self._shapes = {id(p): tuple(p.shape) for p in self.params}
        with torch.no_grad():
            if broadcast:
                for t in list(model.parameters()) + list(model.buffers()):
                    dist.broadcast(t.data, 0)
            self.shard_size, self.buffers, self.shards = [], [], []
            for p in self.params:
                s = math.ceil(p.numel() / n_ranks)
                buf = torch.zeros(n_ranks * s, dtype=p.dtype, device=p.device)
                buf[:p.numel()].copy_(p.data.reshape(-1))
                self.shard_size.append(s)
                mine = buf[self.rank * s:(self.rank + 1) * s]
                if stage < 3:
                    p.data = buf[:p.numel()].view_as(p)   # weights live in the padded buffer
                    self.buffers.append(buf)
                    self.shards.append(nn.Parameter(mine))  # a view: updating it updates the weights
                else:
                    self.buffers.append(None)
                    self.shards.append(nn.Parameter(mine.clone()))
                    p.data = torch.empty_like(p.data)
                    self._free(p)  # the weight keeps its shape but holds no memory until gathered
        self.optimizer = optimizer(self.shards)
        self._index = {id(p): i for i, p in enumerate(self.params)}
        self._hooks: list = []
        self.bytes_sent = 0.0  # ring-formula bytes each rank sends, accumulated over steps
        if stage >= 2:
            self._hooks += [p.register_post_accumulate_grad_hook(self._reduce_scatter_grad) for p in self.params]
        if stage == 3:
            for m in model.modules():
                own = [p for p in m.parameters(recurse=False) if p.requires_grad]
                if own:
                    self._hooks.append(m.register_forward_pre_hook(self._make_pre(own)))
                    self._hooks.append(m.register_forward_hook(self._make_post(own)))

    def __call__(self, *args, **kwargs):
        return self.model(*args, **kwargs)

    # -- communication helpers ------------------------------------------------------------------
    def _ring(self, kind: str, nbytes: int) -> None:
        f = {"all_reduce": 2, "reduce_scatter": 1, "all_gather": 1}[kind]
        self.bytes_sent += f * (self.world - 1) / self.world * nbytes

    def _gather(self, p: torch.Tensor) -> None:
        """All-gather parameter ``p`` from the shards into its (re-allocated) full storage."""
        i = self._index[id(p)]
        s, sh = self.shard_size[i], self.shards[i]
        full = torch.empty(self.world * s, dtype=sh.dtype, device=sh.device)
        dist.all_gather(list(full.chunk(self.world)), sh.data.clone())
        self._ring("all_gather", full.numel() * full.element_size())
        shape = self._shapes[id(p)]
        numel = math.prod(shape)
        with torch.no_grad():
            p.data.untyped_storage().resize_(numel * p.element_size())
            p.data.copy_(full[:numel].view(shape))

    @staticmethod
    def _free(p: torch.Tensor) -> None:
        p.data.untyped_storage().resize_(0)  # views saved for backward share this storage

    def _make_pre(self, own: list):
        def pre(module, args):
            for p in own:
                self._gather(p)
        return pre

    def _make_post(self, own: list):
        def post(module, args, output):
            for p in own:
                self._free(p)
            if torch.is_grad_enabled() and isinstance(output, torch.Tensor) and output.requires_grad:
                def regather(grad):
                    for p in own:
                        self._gather(p)
                    return grad
                output.register_hook(regather)
            return output
        return post

    def _reduce_scatter_grad(self, p: torch.Tensor) -> None:
        i = self._index[id(p)]
        s = self.shard_size[i]
        flat = torch.zeros(self.world * s, dtype=p.grad.dtype, device=p.grad.device)
        flat[:p.numel()].copy_(p.grad.reshape(-1))
        out = torch.empty(s, dtype=flat.dtype, device=flat.device)
        dist.reduce_scatter(out, list(flat.chunk(self.world)))
        self._ring("reduce_scatter", flat.numel() * flat.element_size())
        out.div_(self.world)
        sh = self.shards[i]
        sh.grad = out if sh.grad is None else sh.grad.add_(out)
        p.grad = None  # the full gradient is dropped at once
        if self.stage == 3:
            self._free(p)

    # -- the step ---------------------------------------------------------------------------------
    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None
        for sh in self.shards:
            sh.grad = None

    @torch.no_grad()
    def step(self) -> None:
        if self.stage == 1:
            # reduce-scatter the full gradients into this rank's shard; the full gradients stay
            # allocated (that is what stage 2 saves)
            for i, p in enumerate(self.params):
                s = self.shard_size[i]
                flat = torch.zeros(self.world * s, dtype=p.grad.dtype, device=p.grad.device)
                flat[:p.numel()].copy_(p.grad.reshape(-1))
                out = torch.empty(s, dtype=flat.dtype, device=flat.device)
                dist.reduce_scatter(out, list(flat.chunk(self.world)))
                self._ring("reduce_scatter", flat.numel() * flat.element_size())
                self.shards[i].grad = out.div_(self.world)
        self.optimizer.step()
        if self.stage < 3:
            for i, buf in enumerate(self.buffers):
                dist.all_gather(list(buf.chunk(self.world)), self.shards[i].data.clone())
                self._ring("all_gather", buf.numel() * buf.element_size())

    def full_parameters(self) -> list:
        """The full weights (gathered from the shards in stage 3); every rank must call it."""
        out = []
        for i, p in enumerate(self.params):
            s = self.shard_size[i]
            full = torch.empty(self.world * s, dtype=self.shards[i].dtype)
            dist.all_gather(list(full.chunk(self.world)), self.shards[i].data.clone())
            shape = self._shapes[id(p)]
            out.append(full[:math.prod(shape)].view(shape))
        return out

    def bytes_per_rank(self) -> dict:
        """Persistent bytes this rank holds: weights, gradients, optimizer state (call between steps)."""
        if self.stage < 3:
            params = sum(b.numel() * b.element_size() for b in self.buffers)
        else:
            params = sum(sh.numel() * sh.element_size() for sh in self.shards)
            params += sum(p.data.untyped_storage().nbytes() for p in self.params)  # 0 unless gathered
        grads = sum(p.grad.numel() * p.grad.element_size() for p in self.params if p.grad is not None)
        grads += sum(sh.grad.numel() * sh.grad.element_size() for sh in self.shards
                     if sh.grad is not None and self.stage >= 2)
        return {"params": params, "grads": grads, "optim": state_bytes(self.optimizer)}



# ------------------------------------------------------------------------------------------------
# Worker
# ------------------------------------------------------------------------------------------------

def _mlp(width: int, depth: int, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    layers: list = []
    d = 16
    for _ in range(depth - 1):
        layers += [nn.Linear(d, width), nn.GELU()]
        d = width
    layers.append(nn.Linear(d, 10))
    return nn.Sequential(*layers)


def check_zero(width: int = 63, depth: int = 3, per_rank: int = 8, steps: int = 3, lr: float = 1e-2,
               seed: int = 0, torch_versions: bool = True) -> dict:
    """Worker: train the same MLP ``steps`` AdamW steps with DDP, ZeRO-1/2/3 (from scratch) and, if
    ``torch_versions``, ``ZeroRedundancyOptimizer`` and FSDP2 ``fully_shard`` (CPU device mesh), each
    rank on its shard of every global batch. Returns, per variant, the max abs difference of the
    final weights from DDP's and the persistent bytes per rank (weights, gradients, optimizer
    state), plus the model's parameter count. ``width=63`` makes sizes that do not divide by N."""
    from torch.nn.parallel import DistributedDataParallel as DDP
    r, n = dist.get_rank(), dist.get_world_size()
    base = _mlp(width, depth, seed)
    opt = lambda ps: torch.optim.AdamW(ps, lr=lr, weight_decay=0.01)  # noqa: E731
    sl = slice(r * per_rank, (r + 1) * per_rank)

    def batches():
        for s in range(steps):
            g = torch.Generator().manual_seed(1000 + s)
            yield torch.randn(per_rank * n, 16, generator=g), torch.randint(0, 10, (per_rank * n,), generator=g)

    def pbytes(ps) -> int:
        return sum((p.to_local() if hasattr(p, "to_local") else p).numel() * p.element_size() for p in ps)

    out: dict = {"n_params": sum(p.numel() for p in base.parameters()), "world_size": n}
    ddp = DDP(copy.deepcopy(base))
    o = opt(ddp.parameters())
    for x, y in batches():
        o.zero_grad(set_to_none=False)
        F.cross_entropy(ddp(x[sl]), y[sl]).backward()
        o.step()
    ref = [p.detach().clone() for p in ddp.module.parameters()]
    out["moved"] = max(float((a - c.detach()).abs().max()) for a, c in zip(ref, base.parameters()))
    out["ddp"] = {"diff": 0.0, "bytes": {"params": pbytes(ref), "grads": pbytes([p.grad for p in ddp.parameters()]),
                                         "optim": state_bytes(o)}}

    for stage in (1, 2, 3):
        z = ZeroDataParallel(copy.deepcopy(base), stage, opt)
        for x, y in batches():
            z.zero_grad()
            F.cross_entropy(z(x[sl]), y[sl]).backward()
            z.step()
        b = z.bytes_per_rank()
        full = z.full_parameters()
        out[f"zero{stage}"] = {"diff": max(float((a - c).abs().max()) for a, c in zip(full, ref)), "bytes": b,
                               "bytes_sent_per_step": z.bytes_sent / steps}
    if torch_versions:
        from torch.distributed.device_mesh import init_device_mesh
        from torch.distributed.fsdp import fully_shard
        from torch.distributed.optim import ZeroRedundancyOptimizer
        m = DDP(copy.deepcopy(base))
        zo = ZeroRedundancyOptimizer(m.parameters(), optimizer_class=torch.optim.AdamW, lr=lr, weight_decay=0.01)
        for x, y in batches():
            zo.zero_grad()
            F.cross_entropy(m(x[sl]), y[sl]).backward()
            zo.step()
        out["zero_redundancy_optimizer"] = {
            "diff": max(float((a.detach() - c).abs().max()) for a, c in zip(m.module.parameters(), ref)),
            "bytes": {"params": pbytes(list(m.parameters())), "grads": pbytes([p.grad for p in m.parameters()]),
                      "optim": state_bytes(zo.optim)}}
        mesh = init_device_mesh("cpu", (n,))
        fm = copy.deepcopy(base)
        for layer in fm:
            if any(True for _ in layer.parameters()):
                fully_shard(layer, mesh=mesh)
        fully_shard(fm, mesh=mesh)
        fo = opt(fm.parameters())
        for x, y in batches():
            fo.zero_grad()
            F.cross_entropy(fm(x[sl]), y[sl]).backward()
            fo.step()
        full = [p.full_tensor().detach() for p in fm.parameters()]
        out["fsdp2"] = {"diff": max(float((a - c).abs().max()) for a, c in zip(full, ref)),
                        "bytes": {"params": pbytes(list(fm.parameters())),
                                  "grads": pbytes([p.grad for p in fm.parameters() if p.grad is not None]),
                                  "optim": state_bytes(fo)}}
    return out
