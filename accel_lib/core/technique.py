"""The technique contract: every acceleration technique is a small dataclass with optional hooks.

A technique overrides only the hooks it needs. The training loop (:func:`accel_lib.core.loop.train`)
calls them in a fixed order and knows nothing about any specific technique:

====================  =====================================================================
hook                  when and what
====================  =====================================================================
``setup_model``       once, before the optimizer is built; returns the (possibly new) model.
                      Techniques are applied in order of their :class:`Stage`.
``on_start``          once, after the optimizer exists (``state.optimizer``).
``on_batch``          for every batch, before forward; returns a *new* :class:`Batch`.
``on_loss``           after forward; receives the model output and the loss, returns a loss.
``after_backward``    after ``loss.backward()`` (gradients exist), before the optimizer step.
``after_step``        after the optimizer step.
``on_end``            once, when the budget is spent or the run stops.
====================  =====================================================================

Techniques read training progress (a float in [0, 1]) from ``state.progress``; they never count
their own steps. Stateful techniques override ``state_dict``/``load_state_dict`` so that
checkpoints resume exactly.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, Optional, Sequence

import torch
from torch import nn

if TYPE_CHECKING:  # pragma: no cover
    from .loop import TrainState

__all__ = ["Stage", "Batch", "Technique", "ConflictError", "check_conflicts", "order_for_setup"]


class Stage(enum.IntEnum):
    """Order in which ``setup_model`` hooks run (torchtitan's order: change the maths first,
    then layout, memory, compilation, and distribution last)."""

    SURGERY = 0      # replace or add modules (sparsity masks, LoRA, growth, stochastic depth)
    LAYOUT = 1       # memory format and dtype of parameters (channels_last, ...)
    MEMORY = 2       # activation checkpointing, offload
    COMPILE = 3      # torch.compile
    DISTRIBUTE = 4   # DDP / FSDP / tensor parallel wrappers


class Batch(NamedTuple):
    """One training batch.

    ``x``: inputs, e.g. images ``(B, C, H, W)`` or token ids ``(B, T)``.
    ``y``: targets: class ids ``(B,)``/``(B, T)``, or class probabilities ``(B, K)`` (soft labels).
    ``weight``: optional per-example loss weights ``(B,)``; the loss is ``mean(weight * loss_i)``.
    """

    x: torch.Tensor
    y: torch.Tensor
    weight: Optional[torch.Tensor] = None

    def to(self, device: torch.device | str, non_blocking: bool = False) -> "Batch":
        w = None if self.weight is None else self.weight.to(device, non_blocking=non_blocking)
        return Batch(self.x.to(device, non_blocking=non_blocking),
                     self.y.to(device, non_blocking=non_blocking), w)

    @property
    def size(self) -> int:
        return int(self.x.shape[0])


class ConflictError(ValueError):
    """Raised when two techniques that declared a conflict are combined."""


@dataclass
class Technique:
    """Base class of every technique. Subclasses are dataclasses whose fields are hyperparameters.

    Class attributes a subclass may set:

    * ``stage``: the :class:`Stage` of its ``setup_model`` hook (default ``SURGERY``);
    * ``conflicts``: names of techniques (class names) it cannot be combined with.
    """

    stage: ClassVar[Stage] = Stage.SURGERY
    conflicts: ClassVar[Sequence[str]] = ()

    @property
    def name(self) -> str:
        return type(self).__name__

    # --- hooks: the defaults do nothing -------------------------------------------------------
    def setup_model(self, model: nn.Module, state: "TrainState") -> nn.Module:
        return model

    def on_start(self, state: "TrainState") -> None:
        return None

    def on_batch(self, batch: Batch, state: "TrainState") -> Batch:
        return batch

    def on_loss(self, loss: torch.Tensor, output: Any, batch: Batch, state: "TrainState") -> torch.Tensor:
        return loss

    def after_backward(self, state: "TrainState") -> None:
        return None

    def after_step(self, state: "TrainState") -> None:
        return None

    def on_end(self, state: "TrainState") -> None:
        return None

    # --- state for exact resume ---------------------------------------------------------------
    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        return None

    def hparams(self) -> dict:
        """The hyperparameters (dataclass fields) as a plain dict, for logs and tables."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def check_conflicts(techniques: Sequence[Technique]) -> None:
    """Refuse duplicated techniques and declared conflicts with a message that says what to do."""
    names = [t.name for t in techniques]
    seen = set()
    for n in names:
        if n in seen:
            raise ConflictError(f"technique {n} is listed twice; keep one instance (merge their settings).")
        seen.add(n)
    for t in techniques:
        for other in t.conflicts:
            if other in seen and other != t.name:
                raise ConflictError(
                    f"{t.name} cannot be combined with {other}: they act on the same part of the "
                    f"update in incompatible ways. Remove one of them from `techniques`.")


def order_for_setup(techniques: Sequence[Technique]) -> list[Technique]:
    """Techniques sorted by stage; techniques of the same stage keep the caller's order."""
    return sorted(techniques, key=lambda t: int(t.stage))
