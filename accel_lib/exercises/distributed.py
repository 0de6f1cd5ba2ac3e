"""Checkers for the distributed-training chapter's coding exercises.

Each ``check_*`` calls a learner's function on fresh inputs, compares it with the library's
reference and raises ``AssertionError`` with a hint on disagreement; it returns ``True`` otherwise.
They run in the notebook's own process (no process group needed).
"""
from __future__ import annotations

import random
from typing import Callable

import torch
from torch import nn

__all__ = ["check_ring_bytes", "check_bubble", "check_zero_memory", "check_column_shard", "check_ring_schedule"]


def check_ring_bytes(fn: Callable[[str, float, int], float]) -> bool:
    """``fn(kind, nbytes, n)``: bytes each rank sends in a ring all_reduce / reduce_scatter / all_gather."""
    from accel_lib.system.distributed.collectives import ring_bytes_per_rank
    rng = random.Random(0)
    for _ in range(20):
        kind = rng.choice(["all_reduce", "reduce_scatter", "all_gather"])
        nbytes, n = rng.randint(1, 10**9), rng.randint(1, 64)
        want, got = ring_bytes_per_rank(kind, nbytes, n), fn(kind, nbytes, n)
        assert abs(got - want) <= 1e-6 * max(1.0, want), (
            f"{kind} of {nbytes} bytes on {n} ranks: expected {want:.1f}, got {got}. Hint: a ring takes N-1 "
            "steps per phase, each sending 1/N of the tensor; all-reduce has two phases.")
    return True


def check_bubble(fn: Callable[[int, int], float]) -> bool:
    """``fn(m, p)``: the bubble fraction of GPipe/1F1B with m micro-batches and p stages."""
    from accel_lib.system.distributed.pipeline_parallel import bubble_formula, gpipe_schedule, simulate
    for m, p in [(1, 1), (1, 4), (4, 2), (8, 4), (32, 8), (3, 5)]:
        got = fn(m, p)
        assert abs(got - bubble_formula(m, p)) < 1e-9, (
            f"m={m}, p={p}: expected {bubble_formula(m, p):.4f} (simulated: "
            f"{simulate(gpipe_schedule, m, p)['bubble']:.4f}), got {got}. Hint: count the p-1 idle slots at "
            "each end of a step made of m+p-1 slots.")
    return True


def check_zero_memory(fn: Callable[[int, float, int], float]) -> bool:
    """``fn(stage, n_params, n)``: bytes per rank (weights + gradients + optimizer state) for fp32
    Adam (4 + 4 + 8 bytes per parameter) under ZeRO stage 0 (plain DP), 1, 2 or 3."""
    from accel_lib.system.distributed.planner import Workload, memory_per_device
    names = {0: "dp", 1: "zero1", 2: "zero2", 3: "zero3"}
    for stage in range(4):
        for n_params, n in [(1e6, 1), (7e9, 8), (1.3e9, 64)]:
            w = Workload(n_params=n_params, weight_bytes=4, grad_bytes=4, optim_bytes=8)
            want = memory_per_device(names[stage], w, n)["total"]
            got = fn(stage, n_params, n)
            assert abs(got - want) <= 1e-6 * want, (
                f"stage {stage}, {n_params:.3g} parameters, {n} ranks: expected {want:.4g} bytes, got {got:.4g}. "
                "Hint: stage 1 divides the optimizer state by N, stage 2 also the gradients, stage 3 also the weights.")
    return True


def check_column_shard(fn: Callable[[nn.Linear, int, int], tuple]) -> bool:
    """``fn(linear, rank, world)`` returns ``(weight_shard, bias_shard)`` of a column-parallel split:
    concatenating every rank's ``x @ W_r.T + b_r`` along the last dimension must give ``linear(x)``."""
    torch.manual_seed(0)
    for world in (1, 2, 4):
        lin = nn.Linear(6, 8)
        x = torch.randn(3, 6)
        parts = []
        for r in range(world):
            w, b = fn(lin, r, world)
            assert tuple(w.shape) == (8 // world, 6), (
                f"world {world}: weight shard shape {tuple(w.shape)}, expected {(8 // world, 6)}. "
                "Hint: column parallelism splits the output features, which are the rows of nn.Linear.weight.")
            parts.append(x @ w.t() + b)
        assert torch.allclose(torch.cat(parts, -1), lin(x), atol=1e-6), (
            f"world {world}: the concatenated outputs differ from linear(x). Hint: rank r keeps rows "
            "[r*k, (r+1)*k) of the weight and the same slice of the bias.")
    return True


def check_ring_schedule(fn: Callable[[int, int, int], tuple]) -> bool:
    """``fn(rank, step, n)`` returns ``(send_chunk, recv_chunk)`` for step ``step`` of a ring
    reduce-scatter after which rank r holds the full sum of chunk r (as in
    ``collectives.ring_reduce_scatter``). Checked by simulating the ring on numbers."""
    for n in (2, 3, 5):
        data = [[float(10 ** r * (c + 1)) for c in range(n)] for r in range(n)]  # data[rank][chunk]
        for s in range(n - 1):
            msgs = {}
            for r in range(n):
                send, recv = fn(r, s, n)
                msgs[(r + 1) % n] = (send, data[r][send])
                assert (r - 1) % n in range(n)
            for r in range(n):
                send_from_left, val = msgs[r]
                _, recv = fn(r, s, n)
                assert send_from_left == recv, (
                    f"n={n}, step {s}: rank {r} expects chunk {recv} but its left neighbour sends chunk "
                    f"{send_from_left}. Hint: what rank r receives is what rank r-1 sends.")
                data[r][recv] += val
        for r in range(n):
            want = sum(data0[r] for data0 in [[float(10 ** q * (c + 1)) for c in range(n)] for q in range(n)])
            assert data[r][r] == want, (
                f"n={n}: after N-1 steps rank {r} holds {data[r][r]} in chunk {r}, expected the full sum {want}. "
                "Hint: at step s rank r should send chunk (r - s - 1) mod N.")
    return True
