"""Checkpoints that are written atomically and resume exactly.

A checkpoint holds the model, optimizer, loss scaler and technique states, the budget counters,
the logs and every random-number generator state, so that a run interrupted and resumed ends
with the same weights as an uninterrupted one (tested in ``tests/core/test_checkpoint.py``).
Files are written to a temporary file in the same folder, flushed to disk, then renamed over the
old one (``os.replace`` is atomic on POSIX and Windows): a crash never leaves a half-written file.
Loading uses ``torch.load(weights_only=True)``, which refuses arbitrary pickled code.
"""
from __future__ import annotations

import os
import random
import tempfile
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import torch

from .budget import Counters

if TYPE_CHECKING:  # pragma: no cover
    from .loop import TrainState

__all__ = ["atomic_save", "safe_load", "save_checkpoint", "load_checkpoint"]


def atomic_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` to ``path`` atomically (temporary file + fsync + rename)."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".pt", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def safe_load(path: str | os.PathLike, map_location: Any = "cpu") -> Any:
    """``torch.load`` with ``weights_only=True`` (tensors, numbers, strings, containers only)."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"no checkpoint at {os.fspath(path)!r}.")
    return torch.load(path, map_location=map_location, weights_only=True)


def _rng_state() -> dict:
    st = {"torch": torch.get_rng_state(), "python": list(random.getstate()[1]),
          "python_pos": random.getstate()[2]}
    if torch.cuda.is_available():
        st["cuda"] = torch.cuda.get_rng_state_all()
    return st


def _set_rng_state(st: dict) -> None:
    torch.set_rng_state(st["torch"])
    random.setstate((3, tuple(int(v) for v in st["python"]), st["python_pos"]))
    if "cuda" in st and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(st["cuda"])


def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return getattr(model, "module", getattr(model, "_orig_mod", model))


def save_checkpoint(path: str | os.PathLike, state: "TrainState", epoch: int = 0) -> None:
    """Write everything needed to resume ``state`` exactly."""
    obj = {
        "model": _unwrap(state.model).state_dict(),
        "optimizer": state.optimizer.state_dict() if state.optimizer is not None else None,
        "scaler": state.scaler.state_dict() if state.scaler is not None else None,
        "techniques": {t.name: t.state_dict() for t in state.techniques},
        "counters": asdict(state.counters),
        "epoch": epoch,
        "history": state.history,
        "evals": state.evals,
        "rng": _rng_state(),
    }
    atomic_save(obj, path)


def load_checkpoint(path: str | os.PathLike, state: "TrainState") -> None:
    """Restore ``state`` (built by the loop with the same model, optimizer and techniques)."""
    obj = safe_load(path, map_location=state.device)
    _unwrap(state.model).load_state_dict(obj["model"])
    if state.optimizer is not None and obj["optimizer"] is not None:
        state.optimizer.load_state_dict(obj["optimizer"])
    if state.scaler is not None and obj["scaler"] is not None:
        state.scaler.load_state_dict(obj["scaler"])
    saved = obj["techniques"]
    for t in state.techniques:
        if t.name not in saved:
            raise ValueError(f"checkpoint {os.fspath(path)!r} has no state for technique {t.name}: "
                             "resume with the same techniques it was written with.")
        t.load_state_dict(saved[t.name])
    state.counters = Counters(**obj["counters"])
    state.history = list(obj["history"])
    state.evals = list(obj["evals"])
    rng = obj["rng"]
    rng["torch"] = rng["torch"].cpu()
    if "cuda" in rng:
        rng["cuda"] = [r.cpu() for r in rng["cuda"]]
    _set_rng_state(rng)
