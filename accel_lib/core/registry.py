"""Catalog entries: how a part declares its techniques for the docs, the meta-tests and the index.

Each part's ``__init__.py`` defines ``CATALOG``, a list of :class:`CatalogEntry` in book order;
:mod:`accel_lib.catalog` collects them. Adding a technique means adding a file, a test, a page and
one entry here: nothing in ``core`` changes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

__all__ = ["CatalogEntry", "PARTS", "SUBSECTIONS"]

PARTS = ("data", "model", "optim", "budget", "system")

# The survey's subsections per part (level-2 names of Shen et al., 2023).
SUBSECTIONS = {
    "data": ("dataset regularization", "data sampling", "data-centric curriculum learning"),
    "model": ("acceleration of basic modules", "compression training", "model initialization",
              "model-centric curriculum learning"),
    "optim": ("learning rate", "large batch size", "efficient objectives", "model average"),
    "budget": ("budgeted training",),
    "system": ("mixed precision", "memory", "compilation", "input pipeline", "distributed training",
               "communication"),
}


@dataclass(frozen=True)
class CatalogEntry:
    """One technique.

    Attributes:
        name: human name ("MixUp").
        part: one of :data:`PARTS`.
        subsection: one of ``SUBSECTIONS[part]``.
        module: dotted module path (``accel_lib.data.mixup``); its docstring is the card.
        speeds_up: what it improves, in a few words ("time-to-accuracy", "activation memory").
        reference: the PyTorch/torchvision equivalent, or "none".
        page: the book page, relative to the repository root (``book/data/regularization.ipynb``).
        make: optional zero-argument factory of a :class:`~accel_lib.core.technique.Technique`
            instance that the meta-test trains for two steps on a tiny image classifier.
    """

    name: str
    part: str
    subsection: str
    module: str
    speeds_up: str
    reference: str
    page: str
    make: Optional[Callable[[], object]] = None
