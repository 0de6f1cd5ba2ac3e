"""Tensor parallelism (Megatron): split each weight matrix over N devices, column-wise then row-wise, with one all-reduce per pair.

Speeds up: memory and time per device for layers too large for one device: a column-parallel
linear followed by a row-parallel one (an MLP, or attention split by heads) divides weights,
gradients, optimizer state and the matmul FLOPs by N, for two all-reduces of the activations per
block in the forward pass and two in the backward pass.
Paper: Shoeybi et al., "Megatron-LM: Training Multi-Billion Parameter Language Models Using
Model Parallelism", 2019.
Reference: ``torch.distributed.tensor.parallel.parallelize_module`` with ``ColwiseParallel`` /
``RowwiseParallel`` on a DeviceMesh
(tests/system/distributed/test_tensor_parallel.py::test_torch_parallelize_module_matches).
Caveats: the all-reduces sit on the critical path (nothing to overlap them with), so tensor
parallelism needs a fast link (NVLink inside a node) and rarely pays across nodes; dimensions
must divide by N. LayerNorms and residuals stay replicated (sequence parallelism shards them too).
Book: book/distributed/tensor_parallel.ipynb
"""
from __future__ import annotations

import copy
import time

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

__all__ = ["copy_to_parallel", "reduce_from_parallel", "gather_from_parallel", "ColumnParallelLinear",
           "RowParallelLinear", "ParallelMLP", "ParallelSelfAttention", "parallelize_block", "COMM",
           "check_tensor_parallel", "check_fsdp_tp_2d", "time_tensor_parallel"]

COMM = {"all_reduce_bytes": 0, "all_reduces": 0}  # activation bytes all-reduced by this process


def _all_reduce(t: torch.Tensor) -> torch.Tensor:
    t = t.contiguous().clone()
    dist.all_reduce(t)
    COMM["all_reduce_bytes"] += t.numel() * t.element_size()
    COMM["all_reduces"] += 1
    return t


class _CopyToParallel(torch.autograd.Function):
    """f in Megatron: identity forward, all-reduce of the gradient backward."""

    @staticmethod
    def forward(ctx, x):
        return x.view_as(x)

    @staticmethod
    def backward(ctx, g):
        return _all_reduce(g)


class _ReduceFromParallel(torch.autograd.Function):
    """g in Megatron: all-reduce forward, identity backward."""

    @staticmethod
    def forward(ctx, x):
        return _all_reduce(x)

    @staticmethod
    def backward(ctx, g):
        return g


class _GatherFromParallel(torch.autograd.Function):
    """Concatenate the ranks' last-dimension slices forward; keep this rank's slice backward."""

    @staticmethod
    def forward(ctx, x):
        n = dist.get_world_size()
        parts = [torch.empty_like(x) for _ in range(n)]
        dist.all_gather(parts, x.contiguous())
        return torch.cat(parts, -1)

    @staticmethod
    def backward(ctx, g):
        n, r = dist.get_world_size(), dist.get_rank()
        return g.chunk(n, -1)[r].contiguous()


def copy_to_parallel(x: torch.Tensor) -> torch.Tensor:
    return _CopyToParallel.apply(x)


def reduce_from_parallel(x: torch.Tensor) -> torch.Tensor:
    return _ReduceFromParallel.apply(x)


def gather_from_parallel(x: torch.Tensor) -> torch.Tensor:
    return _GatherFromParallel.apply(x)


def _split(n: int, what: str) -> tuple:
    if not dist.is_initialized():
        raise RuntimeError("tensor parallelism needs a process group: run it in a worker started by "
                           "run_workers or torchrun.")
    w, r = dist.get_world_size(), dist.get_rank()
    if n % w:
        raise ValueError(f"{what}={n} must be divisible by the number of ranks {w}.")
    return r, w, n // w


class ColumnParallelLinear(nn.Module):
    """``y = x A^T + b`` with the rows of ``A`` (output features) split over ranks: rank r computes
    output features ``[r*k, (r+1)*k)``. Input (..., in) replicated; output (..., out/N), or the full
    (..., out) with ``gather_output=True``."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None, gather_output: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(weight.detach().clone())
        self.bias = None if bias is None else nn.Parameter(bias.detach().clone())
        self.gather_output = gather_output

    @classmethod
    def from_linear(cls, lin: nn.Linear, gather_output: bool = False) -> "ColumnParallelLinear":
        r, _, k = _split(lin.out_features, "out_features")
        b = None if lin.bias is None else lin.bias[r * k:(r + 1) * k]
        return cls(lin.weight[r * k:(r + 1) * k], b, gather_output)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.linear(copy_to_parallel(x), self.weight, self.bias)
        return gather_from_parallel(y) if self.gather_output else y


class RowParallelLinear(nn.Module):
    """``y = x A^T + b`` with the columns of ``A`` (input features) split over ranks. Input: this
    rank's slice (..., in/N) (what a column-parallel layer outputs); output: the full (..., out)
    after one all-reduce of the partial products; the bias is added once, after it."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None) -> None:
        super().__init__()
        self.weight = nn.Parameter(weight.detach().clone())
        self.bias = None if bias is None else nn.Parameter(bias.detach().clone())

    @classmethod
    def from_linear(cls, lin: nn.Linear) -> "RowParallelLinear":
        r, _, k = _split(lin.in_features, "in_features")
        return cls(lin.weight[:, r * k:(r + 1) * k], lin.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = reduce_from_parallel(F.linear(x, self.weight))
        return y if self.bias is None else y + self.bias


class ParallelMLP(nn.Module):
    """Linear -> activation -> Linear with the first column-parallel and the second row-parallel:
    the activation acts on local slices, so the block needs one all-reduce forward and one backward."""

    def __init__(self, mlp: nn.Sequential) -> None:
        super().__init__()
        lins = [m for m in mlp if isinstance(m, nn.Linear)]
        if len(lins) != 2:
            raise ValueError("ParallelMLP expects a Sequential with exactly two nn.Linear layers.")
        self.fc1 = ColumnParallelLinear.from_linear(lins[0])
        self.act = [m for m in mlp if not isinstance(m, (nn.Linear, nn.Dropout))][0]
        self.fc2 = RowParallelLinear.from_linear(lins[1])
        drops = [m for m in mlp if isinstance(m, nn.Dropout)]
        self.drop = drops[0] if drops else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.act(self.fc1(x))))


class ParallelSelfAttention(nn.Module):
    """Causal self-attention split by heads: rank r keeps heads ``[r*h, (r+1)*h)`` of the fused
    q/k/v projection (column-parallel) and the matching input columns of the output projection
    (row-parallel). Built from :class:`accel_lib.core.models.CausalSelfAttention`."""

    def __init__(self, attn: nn.Module) -> None:
        super().__init__()
        r, w, h = _split(attn.n_head, "n_head")
        c = attn.qkv.in_features
        d = c // attn.n_head
        rows = torch.cat([torch.arange(part * c + r * h * d, part * c + (r + 1) * h * d) for part in range(3)])
        self.qkv = ColumnParallelLinear(attn.qkv.weight[rows], None if attn.qkv.bias is None else attn.qkv.bias[rows])
        self.proj = RowParallelLinear.from_linear(attn.proj)
        self.h, self.d, self.dropout = h, d, attn.dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, T, C) replicated
        b, t, _ = x.shape
        q, k, v = self.qkv(x).split(self.h * self.d, dim=2)             # each (B, T, h*d), local heads
        q, k, v = (z.view(b, t, self.h, self.d).transpose(1, 2) for z in (q, k, v))  # (B, h, T, d)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                           dropout_p=self.dropout if self.training else 0.0)
        return self.proj(y.transpose(1, 2).reshape(b, t, self.h * self.d))  # all-reduced (B, T, C)


def parallelize_block(block: nn.Module) -> nn.Module:
    """Return a copy of a GPT :class:`~accel_lib.core.models.Block` with tensor-parallel attention
    and MLP (LayerNorms replicated): 2 all-reduces forward, 2 backward per block."""
    out = copy.deepcopy(block)
    out.attn = ParallelSelfAttention(block.attn)
    out.mlp = ParallelMLP(block.mlp)
    return out


# ------------------------------------------------------------------------------------------------
# Workers
# ------------------------------------------------------------------------------------------------

def _rows(t: torch.Tensor, r: int, w: int, dim: int = 0) -> torch.Tensor:
    return t.chunk(w, dim)[r]


def check_tensor_parallel(n_embd: int = 32, n_head: int = 4, batch: int = 2, seq: int = 8, seed: int = 0) -> dict:
    """Worker: a GPT block made tensor-parallel from scratch vs the unsharded block (outputs, input
    gradient and every weight gradient against the matching slice of the full gradient), the
    activation bytes all-reduced, and ``parallelize_module`` (Colwise/Rowwise) on the MLP vs the
    unsharded MLP."""
    from accel_lib.core.models import Block, GPTConfig
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor.parallel import ColwiseParallel, RowwiseParallel, parallelize_module
    r, w = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(seed)
    block = Block(GPTConfig(n_embd=n_embd, n_head=n_head))
    x = torch.randn(batch, seq, n_embd)
    probe = torch.randn(batch, seq, n_embd)
    tp = parallelize_block(block)

    x1 = x.clone().requires_grad_(True)
    ((block(x1) * probe).sum()).backward()
    COMM.update(all_reduce_bytes=0, all_reduces=0)
    x2 = x.clone().requires_grad_(True)
    out2 = tp(x2)
    fwd_reduces, fwd_bytes = COMM["all_reduces"], COMM["all_reduce_bytes"]
    ((out2 * probe).sum()).backward()
    out: dict = {"out": float((block(x) - out2).detach().abs().max()), "dx": float((x1.grad - x2.grad).abs().max()),
                 "fwd_all_reduces": fwd_reduces, "fwd_bytes": fwd_bytes, "all_reduces": COMM["all_reduces"],
                 "act_bytes": x.numel() * x.element_size()}
    c = n_embd
    qkv_w = block.attn.qkv.weight.grad.view(3, c, c)
    want = {
        "attn.qkv.weight": torch.cat([_rows(qkv_w[i], r, w) for i in range(3)]),
        "attn.qkv.bias": torch.cat([_rows(block.attn.qkv.bias.grad.view(3, c)[i], r, w) for i in range(3)]),
        "attn.proj.weight": _rows(block.attn.proj.weight.grad, r, w, 1),
        "attn.proj.bias": block.attn.proj.bias.grad,
        "mlp.fc1.weight": _rows(block.mlp[0].weight.grad, r, w), "mlp.fc1.bias": _rows(block.mlp[0].bias.grad, r, w),
        "mlp.fc2.weight": _rows(block.mlp[2].weight.grad, r, w, 1), "mlp.fc2.bias": block.mlp[2].bias.grad,
        "ln1.weight": block.ln1.weight.grad, "ln2.bias": block.ln2.bias.grad}
    got = dict(tp.named_parameters())
    out["grads"] = {k: float((got[k].grad - v).abs().max()) for k, v in want.items()}
    out["param_fraction"] = sum(p.numel() for n_, p in tp.named_parameters() if "ln" not in n_) / \
        sum(p.numel() for n_, p in block.named_parameters() if "ln" not in n_)

    # the production version: DTensor tensor parallelism on a 1-D CPU mesh
    mesh = init_device_mesh("cpu", (w,))
    mlp = copy.deepcopy(block.mlp)
    mlp.zero_grad()
    ref = copy.deepcopy(block.mlp)
    ref.zero_grad()
    parallelize_module(mlp, mesh, {"0": ColwiseParallel(), "2": RowwiseParallel()})
    ((mlp(x) * probe).sum()).backward()
    ((ref(x) * probe).sum()).backward()
    out["torch_out"] = float((mlp(x) - ref(x)).detach().abs().max())
    out["torch_grads"] = max(float((p.grad.full_tensor() - q.grad).abs().max())
                             for p, q in zip(mlp.parameters(), ref.parameters()))
    return out


def check_fsdp_tp_2d(width: int = 32, per_dp_rank: int = 4, steps: int = 2, lr: float = 0.1, seed: int = 0) -> dict:
    """Worker for 4 ranks: a 2-D (data x tensor) mesh of shape (2, 2): the MLP is tensor-parallel
    over the "tp" dimension and FSDP2-sharded over "dp"; each dp group takes its shard of every
    global batch. Returns the max abs difference of the final weights from single-process SGD on
    the whole batch, and this rank's local parameter fraction (1/4 of the weights)."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard
    from torch.distributed.tensor.parallel import ColwiseParallel, RowwiseParallel, parallelize_module
    import logging
    import warnings
    warnings.filterwarnings("ignore", message=".*returned a view tensor.*")
    logging.getLogger("torch.distributed.tensor._redistribute").setLevel(logging.ERROR)
    if dist.get_world_size() != 4:
        raise ValueError("check_fsdp_tp_2d needs exactly 4 ranks (a 2 x 2 mesh).")
    mesh = init_device_mesh("cpu", (2, 2), mesh_dim_names=("dp", "tp"))
    dp_rank = mesh["dp"].get_local_rank()
    torch.manual_seed(seed)
    ref = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))
    model = copy.deepcopy(ref)
    parallelize_module(model, mesh["tp"], {"0": ColwiseParallel(), "2": RowwiseParallel()})
    fully_shard(model, mesh=mesh["dp"])
    opt, ropt = torch.optim.SGD(model.parameters(), lr=lr), torch.optim.SGD(ref.parameters(), lr=lr)
    sl = slice(dp_rank * per_dp_rank, (dp_rank + 1) * per_dp_rank)
    for s in range(steps):
        g = torch.Generator().manual_seed(100 + s)
        x, y = torch.randn(2 * per_dp_rank, width, generator=g), torch.randn(2 * per_dp_rank, width, generator=g)
        for m, o, xs, ys in ((model, opt, x[sl], y[sl]), (ref, ropt, x, y)):
            o.zero_grad()
            F.mse_loss(m(xs), ys).backward()
            o.step()
    diff = max(float((p.full_tensor() - q).detach().abs().max()) for p, q in zip(model.parameters(), ref.parameters()))
    local = sum(p.to_local().numel() for p in model.parameters())
    return {"diff": diff, "local_fraction": local / sum(p.numel() for p in ref.parameters()),
            "mesh": tuple(mesh.shape)}


def time_tensor_parallel(n_embd: int = 512, n_head: int = 8, batch: int = 8, seq: int = 64, repeats: int = 7,
                         seed: int = 0) -> dict:
    """Worker: seconds for forward + backward of one GPT block, unsharded on every rank vs
    tensor-parallel over the ranks, interleaved; plus the weight bytes per rank of each and the
    activation bytes all-reduced per step."""
    from accel_lib.core.models import Block, GPTConfig
    torch.manual_seed(seed)
    block = Block(GPTConfig(n_embd=n_embd, n_head=n_head, block_size=seq))
    tp = parallelize_block(block)
    x = torch.randn(batch, seq, n_embd)

    def run(m):
        m.zero_grad(set_to_none=True)
        m(x).sum().backward()
    times: dict = {"unsharded": [], "tensor_parallel": []}
    run(block)
    run(tp)
    COMM.update(all_reduce_bytes=0, all_reduces=0)
    for _ in range(repeats):
        for k, m in (("unsharded", block), ("tensor_parallel", tp)):
            dist.barrier()
            t0 = time.perf_counter()
            run(m)
            times[k].append(time.perf_counter() - t0)
    med = {k: sorted(v)[len(v) // 2] for k, v in times.items()}
    return {"median_s": med, "weight_bytes": {"unsharded": sum(p.numel() * 4 for p in block.parameters()),
                                              "tensor_parallel": sum(p.numel() * 4 for p in tp.parameters())},
            "all_reduce_bytes_per_step": COMM["all_reduce_bytes"] / repeats}
