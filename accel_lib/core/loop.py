"""The training loop. It knows no technique: techniques act only through the hooks of
:class:`~accel_lib.core.technique.Technique`; autocast, loss scaling and gradient accumulation are
loop arguments whose implementations live in ``accel_lib.system`` (or in PyTorch).
"""
from __future__ import annotations

import itertools
import os
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, Callable, ContextManager, Iterable, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .budget import Budget, Counters
from .technique import Batch, Technique, check_conflicts, order_for_setup

__all__ = ["TrainState", "train", "default_loss"]


def default_loss(output: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-example cross-entropy. Accepts class ids or class probabilities (soft labels);
    sequence outputs ``(B, T, V)`` are averaged over T."""
    if output.dim() == 3:  # (B, T, V) language model
        b, t, v = output.shape
        return F.cross_entropy(output.reshape(b * t, v), y.reshape(b * t), reduction="none").view(b, t).mean(1)
    return F.cross_entropy(output, y, reduction="none")


@dataclass
class TrainState:
    """Everything a hook may read. Hooks may write to ``extras`` (their own keys) and set ``stop``."""

    model: nn.Module
    budget: Budget
    loader: Any
    device: torch.device
    techniques: Sequence[Technique]
    optimizer: Optional[torch.optim.Optimizer] = None
    scaler: Any = None
    counters: Counters = field(default_factory=Counters)
    progress: float = 0.0
    loss: Optional[torch.Tensor] = None       # last loss (a tensor: call .item() only when needed)
    history: list = field(default_factory=list)   # sampled training losses
    evals: list = field(default_factory=list)     # evaluation results with counters
    extras: dict = field(default_factory=dict)
    stop: bool = False


def _as_batch(b: Any) -> Batch:
    return b if isinstance(b, Batch) else Batch(*b)


def _epoch_iter(loader: Any, epoch: int, start: int) -> Iterable:
    if hasattr(loader, "iter_epoch"):
        return loader.iter_epoch(epoch, start)
    if hasattr(loader, "set_epoch"):
        loader.set_epoch(epoch)
    return itertools.islice(iter(loader), start, None)


def train(
    model: nn.Module,
    loader: Any,
    *,
    budget: Budget,
    optimizer: Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer],
    techniques: Sequence[Technique] = (),
    loss_fn: Callable[[Any, torch.Tensor], torch.Tensor] = default_loss,
    lr_schedule: Optional[Callable[[float], float]] = None,
    evaluate: Optional[Callable[[nn.Module], dict]] = None,
    eval_every: Optional[int] = None,
    stop_when: Optional[Callable[[dict], bool]] = None,
    device: Optional[torch.device | str] = None,
    autocast: Optional[Callable[[], ContextManager]] = None,
    scaler: Any = None,
    accumulation: int = 1,
    flops_per_sample: Optional[float] = None,
    checkpoint: Optional[str | os.PathLike] = None,
    checkpoint_every: Optional[int] = None,
    log_every: int = 10,
) -> TrainState:
    """Train ``model`` on batches from ``loader`` until ``budget`` is spent.

    Args:
        optimizer: a factory ``params -> Optimizer`` (called after ``setup_model`` hooks).
        loss_fn: per-example loss ``(output, y) -> (B,)``; the step loss is its (weighted) mean.
        lr_schedule: multiplier of each group's initial LR as a function of progress in [0, 1].
        evaluate: ``model -> dict`` of metrics, called every ``eval_every`` steps and at the end;
            its time is excluded from ``counters.seconds``.
        stop_when: ``metrics -> bool``; stop early once true (time-to-accuracy runs).
        autocast: a factory of a context manager wrapping forward and loss (mixed precision).
        scaler: an object with ``scale``, ``unscale_``, ``step``, ``update`` (``torch.amp.GradScaler``).
        accumulation: micro-batches per optimizer step (loss divided accordingly).
        flops_per_sample: training FLOPs per example; counted with FlopCounterMode on the first
            batch when the budget is in FLOPs and this is not given.
        checkpoint: a path; if it exists the run resumes from it, and it is rewritten atomically
            every ``checkpoint_every`` steps and at the end.
    """
    from .checkpoint import load_checkpoint, save_checkpoint
    from .devices import default_device, synchronize

    if accumulation < 1 or int(accumulation) != accumulation:
        raise ValueError(f"accumulation must be a positive integer, got {accumulation!r}.")
    if eval_every is not None and eval_every < 1:
        raise ValueError("eval_every must be a positive number of steps (or None).")
    check_conflicts(techniques)
    device = torch.device(device) if device is not None else default_device()
    state = TrainState(model.to(device), budget, loader, device, list(techniques), scaler=scaler)
    for t in order_for_setup(state.techniques):
        state.model = t.setup_model(state.model, state)
    state.optimizer = optimizer(state.model.parameters())
    for g in state.optimizer.param_groups:
        g.setdefault("initial_lr", g["lr"])
    dataset_size = getattr(loader, "num_samples", None)
    sync = budget.unit == "seconds" or device.type != "cpu"
    if checkpoint is not None and os.path.exists(checkpoint):
        load_checkpoint(checkpoint, state)
    for t in state.techniques:
        t.on_start(state)
    ctx = autocast or nullcontext
    c = state.counters

    def forward_backward(batch: Batch, scale: float) -> torch.Tensor:
        with ctx():
            out = state.model(batch.x)
            per_ex = loss_fn(out, batch.y)
            loss = per_ex.mean() if batch.weight is None else (per_ex * batch.weight).mean()
            for t in state.techniques:
                loss = t.on_loss(loss, out, batch, state)
        (scaler.scale(loss * scale) if scaler is not None else loss * scale).backward()
        return loss.detach()

    def run_eval() -> None:
        if evaluate is None:
            return
        synchronize(device)
        was_training = state.model.training
        state.model.eval()
        with torch.no_grad():
            metrics = evaluate(state.model)
        state.model.train(was_training)
        state.evals.append({"step": c.step, "epoch": c.epoch, "samples": c.samples,
                            "seconds": c.seconds, "flops": c.flops, **metrics})
        if stop_when is not None and stop_when(metrics):
            state.stop = True

    state.model.train()
    epoch = int(c.samples // dataset_size) if dataset_size else 0
    start = int((c.samples - epoch * dataset_size) // _batch_size(loader)) if dataset_size else 0
    pending: list[Batch] = []
    while not (state.stop or budget.exhausted(c)):
        got_any = False
        for raw in _epoch_iter(loader, epoch, start):
            got_any = True
            pending.append(_as_batch(raw).to(device, non_blocking=True))
            if len(pending) < accumulation:
                continue
            t0 = budget.clock()
            state.progress = budget.progress(c)
            if lr_schedule is not None:
                mult = float(lr_schedule(state.progress))
                for g in state.optimizer.param_groups:
                    g["lr"] = g["initial_lr"] * mult
            if flops_per_sample is None and budget.unit == "flops":
                from .measure import count_train_flops
                b0 = pending[0]
                flops_per_sample = count_train_flops(state.model, b0.x, b0.y, loss_fn) / b0.size
                state.optimizer.zero_grad(set_to_none=True)
            batches = [t_batch for t_batch in pending]
            pending = []
            for i, b in enumerate(batches):
                for t in state.techniques:
                    b = t.on_batch(b, state)
                batches[i] = b
            if getattr(state.optimizer, "needs_closure", False):
                if accumulation != 1:
                    raise ValueError(f"{type(state.optimizer).__name__} re-evaluates the loss and "
                                     "needs accumulation=1.")

                def closure(b=batches[0]) -> torch.Tensor:
                    state.optimizer.zero_grad(set_to_none=True)
                    return forward_backward(b, 1.0)
            else:
                closure = None
            state.loss = sum(forward_backward(b, 1.0 / accumulation) for b in batches) / accumulation
            if scaler is not None:
                scaler.unscale_(state.optimizer)
            for t in state.techniques:
                t.after_backward(state)
            if scaler is not None:
                scaler.step(state.optimizer)
                scaler.update()
            elif closure is not None:
                state.optimizer.step(closure)
            else:
                state.optimizer.step()
            state.optimizer.zero_grad(set_to_none=True)
            n = sum(b.size for b in batches)
            c.step += 1
            c.samples += n
            c.epoch = c.samples / dataset_size if dataset_size else float(epoch)
            if flops_per_sample:
                c.flops += flops_per_sample * n
            for t in state.techniques:
                t.after_step(state)
            if sync:
                synchronize(device)
            c.seconds += budget.clock() - t0
            if log_every and c.step % log_every == 0:
                state.history.append({"step": c.step, "seconds": c.seconds, "loss": state.loss.item()})
            if eval_every and c.step % eval_every == 0:
                run_eval()
            if checkpoint is not None and checkpoint_every and c.step % checkpoint_every == 0:
                save_checkpoint(checkpoint, state, epoch)
            if state.stop or budget.exhausted(c):
                break
        else:
            epoch, start = epoch + 1, 0
            if not got_any:
                raise ValueError("the loader yielded no batch; check its size and batch_size.")
            if budget.unit == "epochs" and not dataset_size:
                c.epoch = float(epoch)
            continue
    state.progress = budget.progress(c)
    if evaluate is not None and (not state.evals or state.evals[-1]["step"] != c.step):
        run_eval()
    for t in state.techniques:
        t.on_end(state)
    if checkpoint is not None:
        save_checkpoint(checkpoint, state, epoch)
    return state


def _batch_size(loader: Any) -> int:
    bs = getattr(loader, "batch_size", None)
    if not bs:
        raise ValueError("resuming mid-epoch needs a loader with a `batch_size` attribute.")
    return int(bs)
