"""Every model-part entry: a card with the fields, a test file, and (where it has a factory) two
training steps on a tiny CNN."""
import importlib
from pathlib import Path

import pytest
import torch

from accel_lib.model import CATALOG
from tests.model.helpers import train_cnn

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("entry", CATALOG, ids=lambda e: e.name)
def test_card_and_test_file(entry):
    doc = importlib.import_module(entry.module).__doc__
    for field in ("Speeds up:", "Paper:", "Reference:", "Caveats:", "Book:"):
        assert field in doc, f"{entry.module} card lacks {field}"
    assert entry.page in doc
    stem = entry.module.rsplit(".", 1)[1]
    assert (ROOT / "tests" / "model" / f"test_{stem}.py").exists()


@pytest.mark.parametrize("entry", [e for e in CATALOG if e.make], ids=lambda e: e.name)
def test_trains_two_steps(entry):
    st = train_cnn([entry.make()], steps=2)
    assert st.counters.step == 2 and torch.isfinite(st.loss)
