"""The ordered list of techniques per part, collected from each part's ``CATALOG``.

It drives the meta-tests (every technique has a card, a test file and a page, and trains two
steps), the API reference and the book's technique index.
"""
from __future__ import annotations

import importlib

from .core.registry import PARTS, CatalogEntry

__all__ = ["CATALOG", "entries", "by_part"]


def entries() -> list[CatalogEntry]:
    out: list[CatalogEntry] = []
    for part in PARTS:
        mod = importlib.import_module(f"accel_lib.{part}")
        out.extend(getattr(mod, "CATALOG", []))
    return out


def by_part() -> dict:
    d: dict = {p: [] for p in PARTS}
    for e in entries():
        d[e.part].append(e)
    return d


CATALOG = entries()
