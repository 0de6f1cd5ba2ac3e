"""The character-LM speedrun: Tiny Shakespeare validation loss, as fast as possible.

:func:`char_speedrun` starts from the book's baseline (:func:`~accel_lib.core.baselines.char_gpt`:
a 4-layer GPT, AdamW, warm-up + cosine to 10%) and changes what each ingredient names:

================ ==================================================================== ========
name             what                                                                 part
================ ==================================================================== ========
``muon``         Muon (orthogonalised momentum) for hidden weight matrices, AdamW for  optim
                 embeddings, norms and biases
``seq_warmup``   sequence-length warm-up: short windows early, the full 128 after 30% data
``linear_decay`` linear decay to zero after a 5% warm-up (instead of cosine to 10%)   budget
``high_lr``      a 2x larger AdamW LR (6e-3) with gradient clipping at 1               optim
================ ==================================================================== ========

The model, data, context length and evaluation are the baseline's, so validation losses compare.
"""
from __future__ import annotations

from typing import Iterable, Optional, Sequence

import torch
from torch import nn

from accel_lib.budget.cramming import ClipGradNorm
from accel_lib.budget.schedules import linear_to_zero, with_warmup
from accel_lib.core.baselines import Recipe, char_gpt
from accel_lib.core.budget import Budget
from accel_lib.core.datasets import CharData
from accel_lib.data.seq_len_warmup import SeqLenWarmup
from accel_lib.optim.muon import Muon

__all__ = ["CHAR_INGREDIENTS", "char_speedrun"]

CHAR_INGREDIENTS = ("muon", "seq_warmup", "linear_decay", "high_lr")


def _muon_factory(lr: float, adamw_lr: float, weight_decay: float):
    """Muon for 2-D weights inside the blocks (tagged ``hidden``), AdamW for everything else."""
    def factory(params: Iterable[nn.Parameter]) -> torch.optim.Optimizer:
        params = [p for p in params if p.requires_grad]
        hidden = [p for p in params if getattr(p, "hidden", False)]
        other = [p for p in params if not getattr(p, "hidden", False)]
        return Muon([dict(params=hidden, use_muon=True, lr=lr, weight_decay=weight_decay),
                     dict(params=other, use_muon=False, lr=adamw_lr, weight_decay=weight_decay)],
                    lr=lr, momentum=0.95)
    return factory


def char_speedrun(data: CharData, steps: int = 1000, without: Sequence[str] = (), seed: int = 0,
                  device: Optional[torch.device | str] = None, eval_batches: int = 20,
                  muon_lr: float = 0.04) -> Recipe:
    """The char-LM speedrun for ``steps`` optimizer steps; ``without`` switches ingredients off
    (all of them off is exactly the baseline recipe)."""
    unknown = set(without) - set(CHAR_INGREDIENTS)
    if unknown:
        raise ValueError(f"unknown ingredients {sorted(unknown)}; choose from {list(CHAR_INGREDIENTS)}.")
    on = {k: k not in without for k in CHAR_INGREDIENTS}
    base = char_gpt(data, steps=steps, seed=seed, device=device, eval_batches=eval_batches)
    adamw_lr = 6e-3 if on["high_lr"] else 3e-3
    techniques: list = []
    if on["high_lr"]:
        techniques.append(ClipGradNorm(1.0))
    if on["seq_warmup"]:
        techniques.append(SeqLenWarmup(start=16, warmup=0.3))

    def model() -> nn.Module:
        net = base.model()
        for name, p in net.named_parameters():
            p.hidden = p.ndim == 2 and name.startswith("blocks.")
        return net

    if on["muon"]:
        opt = _muon_factory(muon_lr, adamw_lr, 0.0)
    else:
        opt = lambda p: torch.optim.AdamW(p, lr=adamw_lr, betas=(0.9, 0.99), weight_decay=0.1)  # noqa: E731
    schedule = with_warmup(linear_to_zero, 0.05) if on["linear_decay"] else base.lr_schedule
    name = "char speedrun" + (f" without {', '.join(without)}" if without else "")
    return base.with_(name=name, model=model, optimizer=opt, lr_schedule=schedule,
                      budget=Budget(steps, "steps"), techniques=techniques)
