"""The data part's catalog: every technique has a card, a test file and a page, and trains two steps."""
import importlib
from pathlib import Path

import pytest
import torch

from accel_lib.core import Budget, ImageLoader, train
from accel_lib.data import CATALOG
from tests.conftest import tiny_images

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("entry", CATALOG, ids=lambda e: e.name)
def test_card_test_and_page(entry):
    doc = importlib.import_module(entry.module).__doc__ or ""
    for field in ("Speeds up:", "Paper:", "Reference:", "Caveats:", "Book:"):
        assert field in doc, f"{entry.module} card lacks {field!r}"
    assert entry.page in doc
    stem = entry.module.rsplit(".", 1)[1]
    assert (ROOT / "tests" / "data" / f"test_{stem}.py").exists()
    assert (ROOT / "nbsrc" / Path(entry.page).relative_to("book").with_suffix(".md")).exists()


@pytest.mark.parametrize("entry", [e for e in CATALOG if e.make], ids=lambda e: e.name)
def test_trains_two_steps(entry):
    x, y = tiny_images(32, 16)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.AdaptiveAvgPool2d(1),
                                torch.nn.Flatten(), torch.nn.Linear(4, 10))
    st = train(model, ImageLoader(x, y, 8), budget=Budget(2), techniques=[entry.make()], device="cpu",
               optimizer=lambda p: torch.optim.SGD(p, lr=0.1))
    assert st.counters.step == 2 and torch.isfinite(st.loss)
