"""Launching: run a library worker function on N local processes, or on GPUs and nodes with torchrun.

Speeds up: nothing by itself; it is how every other technique of this chapter gets several
processes (gloo on a CPU, NCCL on GPUs) from a notebook, a test or ``torchrun``.
Paper: none (process groups: Li et al., "PyTorch Distributed", VLDB 2020).
Reference: ``torch.multiprocessing.spawn`` and ``torchrun``; tests/system/distributed/test_launch.py
checks per-rank results, error surfacing with the failing rank's traceback, and a timeout that
stops every rank.
Caveats: a worker must be importable (defined in a module, not in a notebook cell: spawned
processes unpickle it by name). Results travel back pickled, so return small CPU objects.
Book: book/distributed/collectives.ipynb

Two ways in:

* :func:`run_workers` (a notebook, a test): ``run_workers(fn, nprocs=2, args=...)`` starts the
  processes, sets up a gloo process group on a free local port, calls ``fn(*args)`` on every rank
  and returns ``[result_rank0, result_rank1, ...]``. If a rank raises, the others are stopped and a
  :class:`WorkerError` carries that rank's traceback; if the ranks do not finish in ``timeout``
  seconds they are all killed and :class:`WorkerTimeout` says which ranks were still running.
* ``torchrun --nproc-per-node 2 -m accel_lib.system.distributed.launch MODULE:FUNCTION [key=value ...]``
  runs the same worker under torchrun: NCCL with one GPU per process when CUDA is present, gloo
  otherwise, and multi-node with torchrun's usual ``--nnodes/--rdzv-endpoint`` flags, unchanged.
  Rank 0 prints the per-rank results as JSON (``--out file.json`` also writes them).
"""
from __future__ import annotations

import datetime as _dt
import importlib
import json
import os
import pickle
import queue as _queue
import socket
import sys
import time
import traceback
from typing import Any, Callable, Optional, Sequence

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

__all__ = ["run_workers", "WorkerError", "WorkerTimeout", "free_port", "rank", "world_size",
           "device", "init_from_env", "main", "hello", "fail_on"]


class WorkerError(RuntimeError):
    """A rank raised; ``rank`` is the first failing rank and ``remote_traceback`` its traceback."""

    def __init__(self, rank: int, remote_traceback: str) -> None:
        self.rank, self.remote_traceback = rank, remote_traceback
        super().__init__(f"rank {rank} raised an exception; its traceback:\n{remote_traceback}")


class WorkerTimeout(TimeoutError):
    """The ranks did not all finish in time; they were stopped."""


def free_port() -> int:
    """A TCP port that is free on this machine now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rank() -> int:
    """This process's rank (0 when no process group is running)."""
    return dist.get_rank() if dist.is_initialized() else 0


def world_size() -> int:
    """The number of processes (1 when no process group is running)."""
    return dist.get_world_size() if dist.is_initialized() else 1


def device() -> torch.device:
    """The device this rank computes on: ``cuda:LOCAL_RANK`` under NCCL, else the CPU."""
    if dist.is_initialized() and dist.get_backend() == "nccl":
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return torch.device("cpu")


def _child(local_rank: int, nprocs: int, port: int, backend: str, threads: int, timeout: float,
           fn: Callable, args: tuple, kwargs: dict, q: Any) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(local_rank),
                      LOCAL_RANK=str(local_rank), WORLD_SIZE=str(nprocs), LOCAL_WORLD_SIZE=str(nprocs))
    torch.set_num_threads(threads)
    try:
        # the collectives' own timeout is longer than the launcher's, so that a hang is always
        # reported by the launcher (WorkerTimeout) rather than by whichever rank times out first
        dist.init_process_group(backend, rank=local_rank, world_size=nprocs,
                                timeout=_dt.timedelta(seconds=timeout + 60.0))
        out = fn(*args, **kwargs)
        payload = pickle.dumps(("ok", local_rank, out))  # plain pickle: tensors travel by value
    except BaseException:  # noqa: BLE001 - every failure must reach the parent
        payload = pickle.dumps(("error", local_rank, traceback.format_exc()))
        q.put(payload)
        os._exit(1)  # do not wait in destroy_process_group for peers that may be stuck
    q.put(payload)
    try:
        dist.barrier()  # let every rank deliver its result before any process group goes away
        dist.destroy_process_group()
    except Exception:  # pragma: no cover - peers already gone: nothing left to clean
        pass


def _stop(procs: Sequence[Any], grace: float = 1.0) -> None:
    for p in procs:
        if p.is_alive():
            p.terminate()
    t_end = time.monotonic() + grace
    for p in procs:
        p.join(max(0.0, t_end - time.monotonic()))
    for p in procs:
        if p.is_alive():
            p.kill()
            p.join(1.0)


# Modules that DDP, FSDP, tensor parallelism and pipelining import lazily. Imported once in the
# parent before forking, so that the children inherit them instead of each importing them (torch._dynamo
# alone takes seconds): a forked rank then starts in a fraction of a second.
_PRELOAD = ("torch._dynamo", "torch.nn.parallel", "torch.distributed.fsdp", "torch.distributed.tensor.parallel",
            "torch.distributed.pipelining", "torch.distributed.optim")


def _preload() -> None:
    for name in _PRELOAD:
        try:
            importlib.import_module(name)
        except Exception:  # pragma: no cover - an optional piece missing in an old torch
            pass


def run_workers(fn: Callable, nprocs: int = 2, args: Sequence = (), kwargs: Optional[dict] = None, *,
                backend: str = "gloo", timeout: float = 120.0, threads: int = 1,
                start_method: Optional[str] = None) -> list:
    """Run ``fn(*args, **kwargs)`` on ``nprocs`` local processes joined in one process group.

    Args:
        fn: a function importable by name (defined at the top level of a module, not in a notebook).
            Inside it, :func:`rank`, :func:`world_size` and ``torch.distributed`` are ready.
        nprocs: number of processes (ranks 0..nprocs-1).
        backend: ``"gloo"`` (CPU) or ``"nccl"`` (one GPU per process).
        timeout: seconds for the whole run; past it every rank is killed and :class:`WorkerTimeout`
            is raised. (The process group's own collective timeout is a minute longer.)
        threads: ``torch.set_num_threads`` in each process (1 avoids oversubscribing the cores).
        start_method: ``"fork"`` (default on Linux with gloo: starts in well under a second, as the
            children inherit the imported torch) or ``"spawn"`` (default elsewhere and with NCCL,
            since CUDA cannot be used in a forked child; each child re-imports torch, a few seconds).

    Returns:
        ``[fn's return value on rank 0, on rank 1, ...]``.

    Raises:
        WorkerError: a rank raised (the message holds its traceback); all ranks were stopped.
        WorkerTimeout: not every rank finished within ``timeout`` seconds; all ranks were stopped.
    """
    if not callable(fn):
        raise TypeError(f"fn must be a function, got {type(fn).__name__}.")
    if start_method is None:
        start_method = "fork" if sys.platform.startswith("linux") and backend == "gloo" else "spawn"
    if start_method not in ("fork", "spawn", "forkserver"):
        raise ValueError(f"start_method must be 'fork', 'spawn' or 'forkserver', got {start_method!r}.")
    if getattr(fn, "__module__", None) == "__main__" and start_method != "fork":
        raise ValueError("fn is defined in __main__ (a notebook or a script): spawned processes cannot "
                         "import it. Put the worker in a module (e.g. accel_lib.system.distributed.*) "
                         "or use start_method='fork' on Linux.")
    if not isinstance(nprocs, int) or nprocs < 1:
        raise ValueError(f"nprocs must be a positive int, got {nprocs!r}.")
    if backend not in ("gloo", "nccl"):
        raise ValueError(f"backend must be 'gloo' or 'nccl', got {backend!r}.")
    if backend == "nccl" and torch.cuda.device_count() < nprocs:
        raise ValueError(f"backend 'nccl' needs one GPU per process: {nprocs} processes, "
                         f"{torch.cuda.device_count()} GPUs. Use backend='gloo' on a CPU.")
    if timeout <= 0:
        raise ValueError("timeout must be positive (seconds).")
    if start_method == "fork":
        _preload()
    ctx = mp.get_context(start_method)
    q = ctx.SimpleQueue()
    port = free_port()
    procs = [ctx.Process(target=_child, args=(r, nprocs, port, backend, threads, timeout, fn,
                                               tuple(args), dict(kwargs or {}), q), daemon=True)
             for r in range(nprocs)]
    for p in procs:
        p.start()
    results: dict = {}
    deadline = time.monotonic() + timeout
    try:
        while len(results) < nprocs:
            if not q.empty():
                status, r, value = pickle.loads(q.get())
                if status == "error":
                    raise WorkerError(r, value)
                results[r] = value
                continue
            dead = [r for r, p in enumerate(procs) if not p.is_alive() and p.exitcode not in (0, None)
                    and r not in results]
            if dead and q.empty():
                time.sleep(0.2)  # a message may still be in flight
                if q.empty():
                    raise WorkerError(dead[0], f"process exited with code {procs[dead[0]].exitcode} "
                                               "without reporting (killed, or crashed in C code).")
            if time.monotonic() > deadline:
                missing = [r for r in range(nprocs) if r not in results]
                raise WorkerTimeout(f"ranks {missing} did not finish within {timeout:g} s; all ranks "
                                    "were stopped. A rank waiting in a collective that another rank "
                                    "never joined hangs like this: check every rank calls the same "
                                    "collectives in the same order.")
            time.sleep(0.01)
        for p in procs:
            p.join(max(0.1, min(10.0, deadline - time.monotonic())))
    finally:
        _stop(procs)
    return [results[r] for r in range(nprocs)]


def hello(scale: float = 1.0) -> dict:
    """Demo worker: each rank contributes ``scale * (rank + 1)``; returns its rank, the world size,
    the backend and the all-reduced sum (``scale * N(N+1)/2`` on every rank)."""
    t = torch.tensor([scale * (rank() + 1)], device=device())
    dist.all_reduce(t)
    return {"rank": rank(), "world_size": world_size(), "backend": dist.get_backend(), "sum": float(t.item())}


def fail_on(bad_rank: int = 1, hang: bool = False) -> int:
    """Demo worker for failure handling: rank ``bad_rank`` raises (``hang=False``) or never joins
    the collective the other ranks wait in (``hang=True``)."""
    if rank() == bad_rank:
        if hang:
            time.sleep(3600)
        raise ValueError(f"rank {bad_rank} failed on purpose")
    t = torch.ones(1)
    dist.all_reduce(t)
    return rank()


# ----------------------------------------------------------------------------------------------
# torchrun entry point
# ----------------------------------------------------------------------------------------------

def init_from_env(backend: Optional[str] = None) -> str:
    """Join the process group torchrun describes in the environment (RANK, WORLD_SIZE,
    MASTER_ADDR, ...): NCCL and ``cuda:LOCAL_RANK`` when CUDA is present, else gloo. Returns the
    backend."""
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        raise RuntimeError("RANK/WORLD_SIZE are not set: start this with torchrun, e.g. "
                           "`torchrun --nproc-per-node 2 -m accel_lib.system.distributed.launch MODULE:FN`.")
    backend = backend or ("nccl" if torch.cuda.is_available() else "gloo")
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend)
    return backend


def _parse_value(v: str) -> Any:
    try:
        return json.loads(v)
    except json.JSONDecodeError:
        return v


def _resolve(spec: str) -> Callable:
    if ":" not in spec:
        raise ValueError(f"worker must be MODULE:FUNCTION, got {spec!r}.")
    mod, name = spec.split(":", 1)
    return getattr(importlib.import_module(mod), name)


def _jsonable(x: Any) -> Any:
    if isinstance(x, torch.Tensor):
        return x.tolist()
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (int, float, str, bool)) or x is None:
        return x
    return repr(x)


def main(argv: Optional[Sequence[str]] = None) -> Optional[list]:
    """``torchrun ... -m accel_lib.system.distributed.launch MODULE:FUNCTION [key=value ...] [--out F]``."""
    import argparse
    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("worker", help="MODULE:FUNCTION, e.g. accel_lib.system.distributed.data_parallel:ddp_demo")
    ap.add_argument("kwargs", nargs="*", help="key=value keyword arguments (values parsed as JSON when possible)")
    ap.add_argument("--backend", default=None, help="gloo or nccl (default: nccl if CUDA is present)")
    ap.add_argument("--out", default=None, help="rank 0 writes the per-rank results to this JSON file")
    a = ap.parse_args(argv)
    fn = _resolve(a.worker)
    kw = {}
    for item in a.kwargs:
        if "=" not in item:
            raise SystemExit(f"keyword arguments are key=value, got {item!r}")
        k, v = item.split("=", 1)
        kw[k] = _parse_value(v)
    backend = init_from_env(a.backend)
    if backend == "gloo":
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    out = fn(**kw)
    gathered = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, _jsonable(out))
    if dist.get_rank() == 0:
        rec = {"worker": a.worker, "kwargs": kw, "backend": backend, "world_size": dist.get_world_size(),
               "results": gathered}
        print(json.dumps(rec, indent=1))
        if a.out:
            with open(a.out, "w") as f:
                json.dump(rec, f, indent=1)
    dist.barrier()
    dist.destroy_process_group()
    return gathered


if __name__ == "__main__":  # pragma: no cover - exercised through torchrun
    sys.exit(0 if main() is not None else 1)
