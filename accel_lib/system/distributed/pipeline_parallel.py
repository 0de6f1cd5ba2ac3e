"""Pipeline parallelism: split the layers into p stages on p devices and stream m micro-batches through them (GPipe, 1F1B).

Speeds up: memory per device (each holds 1/p of the layers) with only point-to-point sends of
activations between neighbours; the price is the pipeline bubble, the idle fraction
(p-1)/(m+p-1) of a step, which shrinks as the number of micro-batches m grows. 1F1B has the same
bubble as GPipe but keeps at most p micro-batches of activations alive instead of m.
Paper: Huang et al., "GPipe", NeurIPS 2019; Narayanan et al., "PipeDream", SOSP 2019 (1F1B);
Narayanan et al., "Efficient Large-Scale Language Model Training on GPU Clusters Using
Megatron-LM", SC 2021.
Reference: ``torch.distributed.pipelining`` (``PipelineStage``, ``ScheduleGPipe``,
``Schedule1F1B``) (tests/system/distributed/test_pipeline_parallel.py::test_torch_pipelining_matches).
Caveats: stages must cost about the same, or the slowest sets the pace; with few micro-batches
the bubble dominates; batch-dependent layers (BatchNorm) see micro-batches, not the batch.
Book: book/distributed/pipeline_parallel.ipynb
"""
from __future__ import annotations

import copy
import time
from typing import Callable, Optional, Sequence

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

__all__ = ["gpipe_schedule", "one_f_one_b_schedule", "simulate", "bubble_formula", "split_stages",
           "run_pipeline", "SleepStage", "check_pipeline", "measure_bubble"]


def gpipe_schedule(m: int, p: int, stage: int) -> list:
    """GPipe: every forward, then every backward. A list of ("F", i) / ("B", i) actions."""
    _check(m, p, stage)
    return [("F", i) for i in range(m)] + [("B", i) for i in range(m)]


def one_f_one_b_schedule(m: int, p: int, stage: int) -> list:
    """1F1B: ``p - stage - 1`` warm-up forwards, then alternate one forward and one backward, then
    the remaining backwards. At most ``p - stage`` micro-batches are in flight on a stage."""
    _check(m, p, stage)
    warm = min(p - stage - 1, m)
    acts = [("F", i) for i in range(warm)]
    for i in range(m - warm):
        acts += [("F", warm + i), ("B", i)]
    acts += [("B", i) for i in range(m - warm, m)]
    return acts


def _check(m: int, p: int, stage: int) -> None:
    if m < 1 or p < 1 or not 0 <= stage < p:
        raise ValueError(f"need m >= 1 micro-batches, p >= 1 stages and 0 <= stage < p; got m={m}, p={p}, stage={stage}.")


def bubble_formula(m: int, p: int) -> float:
    """The idle fraction of a GPipe/1F1B step with equal stages: (p - 1) / (m + p - 1)."""
    return (p - 1) / (m + p - 1)


def simulate(schedule: Callable[[int, int, int], list], m: int, p: int, t_f: float = 1.0, t_b: float = 2.0) -> dict:
    """Event simulation of a schedule with per-stage forward time ``t_f`` and backward ``t_b`` and
    free communication. F(i) on stage s waits for F(i) on s-1; B(i) on s waits for B(i) on s+1 (and
    F(i) on the last stage). Returns ``{"timeline": {stage: [(kind, i, start, end)]}, "makespan",
    "bubble", "max_in_flight": {stage: peak number of stored activations}}``."""
    acts = {s: list(schedule(m, p, s)) for s in range(p)}
    done: dict = {}
    clock = [0.0] * p
    pos = [0] * p
    timeline: dict = {s: [] for s in range(p)}
    remaining = sum(len(a) for a in acts.values())
    while remaining:
        progressed = False
        for s in range(p):
            if pos[s] == len(acts[s]):
                continue
            kind, i = acts[s][pos[s]]
            deps = []
            if kind == "F" and s > 0:
                deps.append(("F", i, s - 1))
            if kind == "B":
                deps.append(("B", i, s + 1) if s < p - 1 else ("F", i, s))
            if all(d in done for d in deps):
                start = max([clock[s]] + [done[d] for d in deps])
                end = start + (t_f if kind == "F" else t_b)
                done[(kind, i, s)] = end
                timeline[s].append((kind, i, start, end))
                clock[s] = end
                pos[s] += 1
                remaining -= 1
                progressed = True
        if not progressed:
            raise RuntimeError("the schedule deadlocks: an action waits for one that never comes first.")
    makespan = max(clock)
    busy = m * (t_f + t_b)
    peak = {}
    for s in range(p):
        live = best = 0
        for kind, *_ in timeline[s]:
            live += 1 if kind == "F" else -1
            best = max(best, live)
        peak[s] = best
    return {"timeline": timeline, "makespan": makespan, "bubble": 1 - busy / makespan, "max_in_flight": peak}


def split_stages(model: nn.Sequential, p: int) -> list:
    """Split a Sequential into ``p`` consecutive stages with (about) equal numbers of modules."""
    k = len(model)
    if p < 1 or p > k:
        raise ValueError(f"cannot split {k} modules into {p} stages.")
    bounds = [round(i * k / p) for i in range(p + 1)]
    return [nn.Sequential(*[model[j] for j in range(bounds[i], bounds[i + 1])]) for i in range(p)]


class _Sleep(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, t_f, t_b):
        time.sleep(t_f)
        ctx.t_b = t_b
        return x.clone()

    @staticmethod
    def backward(ctx, g):
        time.sleep(ctx.t_b)
        return g, None, None


class SleepStage(nn.Module):
    """A stage whose forward takes ``t_f`` seconds and backward ``t_b`` seconds of sleeping: a
    stand-in for compute that measures a schedule's bubble without the ranks competing for cores."""

    def __init__(self, t_f: float = 0.02, t_b: float = 0.04) -> None:
        super().__init__()
        self.t_f, self.t_b = t_f, t_b
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _Sleep.apply(x * self.scale, self.t_f, self.t_b)  # input needs grad, so backward sleeps too


def _send(t: torch.Tensor, dst: int, reqs: list) -> int:
    header = torch.zeros(8, dtype=torch.int64)
    header[0] = t.dim()
    header[1:1 + t.dim()] = torch.tensor(t.shape)
    reqs.append(dist.isend(header, dst))
    t = t.detach().contiguous()
    reqs.append(dist.isend(t, dst))
    reqs.append(t)  # keep the buffer alive until the send completes
    return t.numel() * t.element_size()


def _recv(src: int, dtype: torch.dtype) -> torch.Tensor:
    header = torch.empty(8, dtype=torch.int64)
    dist.recv(header, src)
    shape = header[1:1 + int(header[0])].tolist()
    t = torch.empty(shape, dtype=dtype)
    dist.recv(t, src)
    return t


def run_pipeline(stage_module: nn.Module, schedule: list, micro_inputs: Optional[Sequence[torch.Tensor]] = None,
                 micro_targets: Optional[Sequence[torch.Tensor]] = None,
                 loss_fn: Callable = F.cross_entropy, m: Optional[int] = None, dtype: torch.dtype = torch.float32) -> dict:
    """Run one training step of this rank's stage under ``schedule`` (from :func:`gpipe_schedule`
    or :func:`one_f_one_b_schedule`). Rank ``s`` is stage ``s``; activations go to rank s+1 and
    their gradients come back. The first stage needs ``micro_inputs``, the last ``micro_targets``;
    each micro-batch loss is divided by m, so the accumulated gradients equal those of the mean
    loss over the whole batch. Returns ``{"losses", "events": [(kind, i, start, end)],
    "bytes_sent", "max_in_flight"}`` (times from ``time.perf_counter``)."""
    s, p = dist.get_rank(), dist.get_world_size()
    m = m if m is not None else len(micro_inputs if micro_inputs is not None else micro_targets)
    first, last = s == 0, s == p - 1
    if first and micro_inputs is None:
        raise ValueError("the first stage needs micro_inputs.")
    if last and micro_targets is None:
        raise ValueError("the last stage needs micro_targets.")
    inputs: dict = {}
    outputs: dict = {}
    reqs: list = []
    losses, events = [], []
    sent, live, peak = 0, 0, 0
    for kind, i in schedule:
        if kind == "F":
            x = micro_inputs[i] if first else _recv(s - 1, dtype).requires_grad_(True)
            t0 = time.perf_counter()
            y = stage_module(x)
            if last:
                y = loss_fn(y, micro_targets[i]) / m
                losses.append(float(y.detach()) * m)
            events.append(("F", i, t0, time.perf_counter()))
            if not last:
                sent += _send(y, s + 1, reqs)
            inputs[i], outputs[i] = x, y
            live += 1
            peak = max(peak, live)
        else:
            g = None if last else _recv(s + 1, dtype)
            t0 = time.perf_counter()
            torch.autograd.backward(outputs.pop(i), g)
            events.append(("B", i, t0, time.perf_counter()))
            x = inputs.pop(i)
            if not first:
                sent += _send(x.grad, s - 1, reqs)
            live -= 1
    for r in reqs:
        if hasattr(r, "wait"):
            r.wait()
    return {"losses": losses, "events": events, "bytes_sent": sent, "max_in_flight": peak}


# ------------------------------------------------------------------------------------------------
# Workers
# ------------------------------------------------------------------------------------------------

def _model(width: int, layers: int, seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    mods: list = []
    for _ in range(layers - 1):
        mods += [nn.Sequential(nn.Linear(width, width), nn.GELU())]
    mods.append(nn.Linear(width, 10))
    return nn.Sequential(*mods)


def check_pipeline(m: int = 4, width: int = 16, micro: int = 3, seed: int = 0) -> dict:
    """Worker (p = world size ranks): GPipe and 1F1B from scratch, and ``torch.distributed.pipelining``
    with ``ScheduleGPipe`` and ``Schedule1F1B``, on a Sequential split into p stages; returns each
    one's max abs difference of this stage's gradients from the unpipelined model on the whole
    batch, the losses, and the peak number of stored micro-batch activations."""
    from torch.distributed.pipelining import PipelineStage, Schedule1F1B, ScheduleGPipe
    s, p = dist.get_rank(), dist.get_world_size()
    full = _model(width, 2 * p, seed)
    g = torch.Generator().manual_seed(seed + 1)
    x, y = torch.randn(m * micro, width, generator=g), torch.randint(0, 10, (m * micro,), generator=g)
    ref = copy.deepcopy(full)
    ref_loss = F.cross_entropy(ref(x), y)
    ref_loss.backward()
    ref_stage = split_stages(ref, p)[s]
    want = [q.grad for q in ref_stage.parameters()]
    xs, ys = list(x.chunk(m)), list(y.chunk(m))
    out: dict = {"ref_loss": float(ref_loss.detach())}
    for name, sched in (("gpipe", gpipe_schedule), ("1f1b", one_f_one_b_schedule)):
        stage = split_stages(copy.deepcopy(full), p)[s]
        r = run_pipeline(stage, sched(m, p, s), xs if s == 0 else None, ys if s == p - 1 else None, m=m)
        out[name] = {"grad_diff": max(float((a.grad - b).abs().max()) for a, b in zip(stage.parameters(), want)),
                     "loss": sum(r["losses"]) / m if r["losses"] else None, "max_in_flight": r["max_in_flight"],
                     "bytes_sent": r["bytes_sent"]}
    for name, cls in (("torch_gpipe", ScheduleGPipe), ("torch_1f1b", Schedule1F1B)):
        stage_mod = split_stages(copy.deepcopy(full), p)[s]
        st = PipelineStage(stage_mod, stage_index=s, num_stages=p, device=torch.device("cpu"))
        sched = cls(st, n_microbatches=m, loss_fn=F.cross_entropy)
        losses: list = []
        if s == 0:
            sched.step(x)
        elif s == p - 1:
            sched.step(target=y, losses=losses)
        else:
            sched.step()
        out[name] = {"grad_diff": max(float((a.grad - b).abs().max()) for a, b in zip(stage_mod.parameters(), want))}
    return out


def measure_bubble(m: int = 8, t_f: float = 0.02, t_b: float = 0.04, schedule: str = "1f1b",
                   width: int = 0) -> dict:
    """Worker: run one pipelined step whose stages are :class:`SleepStage` (``width=0``: fixed
    compute times, so the ranks do not compete for the cores) or two real ``width``-wide linear
    layers; return the measured bubble fraction (1 - busy time / makespan, averaged over stages),
    the formula's value and the events. Rank 0's result holds every stage's events."""
    s, p = dist.get_rank(), dist.get_world_size()
    sched = {"gpipe": gpipe_schedule, "1f1b": one_f_one_b_schedule}[schedule]
    d = max(width, 4)
    if width:
        torch.manual_seed(s)
        stage = nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.Linear(d, d))
        loss_fn = lambda out, tgt: F.mse_loss(out, tgt)  # noqa: E731
        micro = 64
    else:
        stage = SleepStage(t_f, t_b)
        loss_fn = lambda out, tgt: out.pow(2).mean()  # noqa: E731
        micro = 2
    xs = [torch.randn(micro, d) for _ in range(m)]
    ys = [torch.randn(micro, d) for _ in range(m)]
    dist.barrier()
    run_pipeline(stage, sched(m, p, s), xs if s == 0 else None, ys if s == p - 1 else None, loss_fn=loss_fn, m=m)  # warm-up
    dist.barrier()
    r = run_pipeline(stage, sched(m, p, s), xs if s == 0 else None, ys if s == p - 1 else None, loss_fn=loss_fn, m=m)
    events = [None] * p
    dist.all_gather_object(events, r["events"])
    t0 = min(e[2] for ev in events for e in ev)  # perf_counter is one clock for processes on one machine
    t1 = max(e[3] for ev in events for e in ev)
    busy = [sum(e[3] - e[2] for e in ev) for ev in events]
    bubble = sum(1 - b / (t1 - t0) for b in busy) / p
    return {"bubble": bubble, "formula": bubble_formula(m, p), "m": m, "p": p, "makespan": t1 - t0,
            "events": [[(k, i, a - t0, b - t0) for k, i, a, b in ev] for ev in events] if s == 0 else None}
