"""The book's baselines: the reference runs every chapter compares against.

* ``cifar_resnet18``: ResNet-18 (32x32 stem) with the standard SGD recipe: batch 128, SGD with
  momentum 0.9 and weight decay 5e-4, LR 0.1 with cosine decay, random crop (pad 4) and flip.
* ``cifar_fastcnn``: the airbench-style :class:`~accel_lib.core.models.FastCNN` with a
  triangular LR schedule (linear warm-up then linear decay), Nesterov SGD, batch 256, crop (pad 2)
  and flip.
* ``char_gpt``: a small GPT on Tiny Shakespeare with AdamW, linear warm-up then cosine decay.

Each function returns a :class:`Recipe` (model, loaders, optimizer factory, LR schedule, budget,
evaluation function) that :func:`run_recipe` hands to :func:`accel_lib.core.loop.train`. A recipe
is plain data: a chapter changes one field and keeps the rest, so a comparison differs only in
the technique under study.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Optional

import torch
from torch import nn

from .budget import Budget
from .datasets import CharData, ImageData
from .loaders import CharLoader, ImageLoader, evaluate_char_lm, evaluate_classifier
from .loop import TrainState, train
from .models import GPT, FastCNN, GPTConfig, resnet18_cifar

__all__ = ["Recipe", "cifar_resnet18", "cifar_fastcnn", "char_gpt", "run_recipe", "warmup_cosine",
           "triangular"]


def warmup_cosine(warmup: float = 0.0, floor: float = 0.0) -> Callable[[float], float]:
    """LR multiplier: linear warm-up over the first ``warmup`` fraction, then cosine to ``floor``."""
    def f(p: float) -> float:
        if warmup > 0 and p < warmup:
            return p / warmup
        q = (p - warmup) / max(1e-12, 1 - warmup)
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, q)))
    return f


def triangular(peak_at: float = 0.2, start: float = 0.1, end: float = 0.0) -> Callable[[float], float]:
    """LR multiplier: linear from ``start`` to 1 at ``peak_at``, then linear to ``end`` at 1."""
    def f(p: float) -> float:
        if p < peak_at:
            return start + (1 - start) * p / peak_at
        return 1 + (end - 1) * (p - peak_at) / (1 - peak_at)
    return f


@dataclass
class Recipe:
    """Everything one training run needs; change a field with ``dataclasses.replace``."""

    name: str
    model: Callable[[], nn.Module]
    loader: Any
    optimizer: Callable
    lr_schedule: Optional[Callable[[float], float]]
    budget: Budget
    evaluate: Callable[[nn.Module], dict]
    target_metric: str
    higher_is_better: bool = True
    techniques: list = field(default_factory=list)
    train_kwargs: dict = field(default_factory=dict)

    def with_(self, **kw: Any) -> "Recipe":
        return replace(self, **kw)


def cifar_resnet18(data: ImageData, epochs: float = 30, batch_size: int = 128, lr: float = 0.1,
                   seed: int = 0, device: Optional[torch.device | str] = None, n_eval: Optional[int] = None) -> Recipe:
    loader = ImageLoader(data.train_x, data.train_y, batch_size, crop_pad=4, flip=True, seed=seed, device=device)
    tx, ty = (data.test_x, data.test_y) if n_eval is None else (data.test_x[:n_eval], data.test_y[:n_eval])
    return Recipe(
        "ResNet-18, SGD", resnet18_cifar, loader,
        lambda p: torch.optim.SGD(p, lr=lr, momentum=0.9, weight_decay=5e-4),
        warmup_cosine(0.0), Budget(epochs, "epochs"), lambda m: evaluate_classifier(m, tx, ty), "accuracy")


def cifar_fastcnn(data: ImageData, epochs: float = 10, batch_size: int = 256, lr: float = 0.2,
                  widths: tuple = (32, 64, 128), seed: int = 0, device: Optional[torch.device | str] = None,
                  n_eval: Optional[int] = None) -> Recipe:
    loader = ImageLoader(data.train_x, data.train_y, batch_size, crop_pad=2, flip=True, seed=seed, device=device)
    tx, ty = (data.test_x, data.test_y) if n_eval is None else (data.test_x[:n_eval], data.test_y[:n_eval])
    return Recipe(
        "FastCNN, Nesterov SGD", lambda: FastCNN(widths), loader,
        lambda p: torch.optim.SGD(p, lr=lr, momentum=0.9, nesterov=True, weight_decay=5e-4),
        triangular(0.2), Budget(epochs, "epochs"), lambda m: evaluate_classifier(m, tx, ty), "accuracy")


def char_gpt(data: CharData, steps: int = 2000, batch_size: int = 32, block_size: int = 128, lr: float = 3e-3,
             n_layer: int = 4, n_embd: int = 128, seed: int = 0, device: Optional[torch.device | str] = None,
             eval_batches: int = 20) -> Recipe:
    cfg = GPTConfig(vocab_size=data.vocab_size, block_size=block_size, n_layer=n_layer, n_head=4, n_embd=n_embd)
    loader = CharLoader(data.train, block_size, batch_size, seed=seed, device=device)
    return Recipe(
        "GPT (char), AdamW", lambda: GPT(cfg), loader,
        lambda p: torch.optim.AdamW(p, lr=lr, betas=(0.9, 0.99), weight_decay=0.1),
        warmup_cosine(0.05, floor=0.1), Budget(steps, "steps"),
        lambda m: evaluate_char_lm(m, data.val, block_size, batches=eval_batches), "val_loss",
        higher_is_better=False)


def run_recipe(recipe: Recipe, *, eval_every: Optional[int] = None, target: Optional[float] = None,
               seed: int = 0, device: Optional[torch.device | str] = None, **kw: Any) -> TrainState:
    """Seed, build the model and train; stops early at ``target`` of the recipe's metric."""
    torch.manual_seed(seed)
    stop = None
    if target is not None:
        stop = (lambda m: m[recipe.target_metric] >= target) if recipe.higher_is_better else \
            (lambda m: m[recipe.target_metric] <= target)
    args = dict(budget=recipe.budget, optimizer=recipe.optimizer, lr_schedule=recipe.lr_schedule,
                evaluate=recipe.evaluate, eval_every=eval_every, stop_when=stop, techniques=recipe.techniques,
                device=device)
    args.update(recipe.train_kwargs)
    args.update(kw)
    return train(recipe.model(), recipe.loader, **args)
