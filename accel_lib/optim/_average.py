"""Shared by the averaging techniques (EMA, SWA): the frozen copy that holds the average."""
from __future__ import annotations

import copy

from torch import nn


def start_average(tech, model: nn.Module) -> None:
    """Give ``tech`` a frozen deep copy of ``model`` as ``tech.module``; if a checkpoint was loaded
    before the run started (``tech._pending``), restore the average and its count from it."""
    tech.module = copy.deepcopy(model)
    for p in tech.module.parameters():
        p.requires_grad_(False)
    if tech._pending is not None:
        tech.module.load_state_dict(tech._pending["module"])
        tech.n_averaged = tech._pending["n_averaged"]
        tech._pending = None
