"""Knowledge distillation: train a small student on the softened predictions of a stronger teacher
as well as on the labels.

Speeds up: time-to-accuracy of the small (cheap to run and to train) model: the teacher's soft
targets carry more information per example than one-hot labels ("dark knowledge").
Paper: Hinton, Vinyals, Dean, "Distilling the Knowledge in a Neural Network", 2015.
Reference: none in PyTorch (the loss is ``F.kl_div`` on temperature-softened log-probabilities);
tests/optim/test_distillation.py checks the loss against the formula and its gradient in closed form.
Caveats: the teacher's forward pass costs time on every step (budget it, or cache its logits when
there is no augmentation); a teacher that is barely better than the student brings little.
Book: book/optim/objectives.ipynb
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from accel_lib.core import Batch, Technique

__all__ = ["distillation_loss", "Distillation"]


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float = 4.0) -> torch.Tensor:
    """Per-example ``T^2 * KL(softmax(t/T) || softmax(s/T))`` for logits ``(B, K)``; returns ``(B,)``.
    The ``T^2`` keeps gradient magnitudes comparable across temperatures."""
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}.")
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(f"student {tuple(student_logits.shape)} and teacher {tuple(teacher_logits.shape)} "
                         "logits must have the same shape.")
    s = F.log_softmax(student_logits.float() / temperature, dim=-1)
    t = F.log_softmax(teacher_logits.float() / temperature, dim=-1)
    return F.kl_div(s, t, log_target=True, reduction="none").sum(-1) * temperature ** 2


@dataclass(eq=False)
class Distillation(Technique):
    """``loss = (1 - alpha) * label loss + alpha * distillation_loss(student, teacher)``.

    The teacher is moved to the training device, frozen and kept in eval mode.
    """

    teacher: nn.Module = None
    alpha: float = 0.5
    temperature: float = 4.0

    def __post_init__(self) -> None:
        if not isinstance(self.teacher, nn.Module):
            raise ValueError("Distillation needs a trained teacher model: Distillation(teacher=model).")
        if not 0 <= self.alpha <= 1:
            raise ValueError(f"alpha (weight of the teacher's loss) must be in [0, 1], got {self.alpha!r}.")
        if self.temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature!r}.")

    def on_start(self, state) -> None:
        self.teacher.to(state.device).eval()
        for p in self.teacher.parameters():
            p.requires_grad_(False)

    def on_loss(self, loss: torch.Tensor, output, batch: Batch, state) -> torch.Tensor:
        if self.alpha == 0:
            return loss
        with torch.no_grad():
            t = self.teacher(batch.x)
        kd = distillation_loss(output, t, self.temperature)
        kd = kd.mean() if batch.weight is None else (kd * batch.weight).mean()
        return (1 - self.alpha) * loss + self.alpha * kd
