"""Meta-tests over the catalog: every technique has a card, a test file and a page in the toc, and
every Technique trains two steps inside the core loop."""
import importlib
from pathlib import Path

import pytest
import torch
import yaml

from accel_lib.catalog import CATALOG
from accel_lib.core import SUBSECTIONS, Budget, FastCNN, ImageLoader, Technique, train
from tests.conftest import tiny_images

ROOT = Path(__file__).resolve().parents[1]
CARD_FIELDS = ("Speeds up:", "Paper:", "Reference:", "Caveats:", "Book:")


def toc_files() -> set:
    found = set()

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                found.add(str(Path(node["file"]).with_suffix("")))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    found.add(toc["root"])
    walk(toc)
    return found


def ids(e):
    return f"{e.part}:{e.name}"


def test_names_unique():
    names = [(e.part, e.name) for e in CATALOG]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("entry", CATALOG, ids=ids)
def test_entry_is_complete(entry):
    assert entry.subsection in SUBSECTIONS[entry.part], f"unknown subsection {entry.subsection!r}"
    mod = importlib.import_module(entry.module)
    doc = mod.__doc__ or ""
    missing = [f for f in CARD_FIELDS if f not in doc]
    assert not missing, f"{entry.module}: card lacks {missing}"
    stem = entry.module.rsplit(".", 1)[-1]
    assert list((ROOT / "tests").rglob(f"test_{stem}.py")), f"no tests/**/test_{stem}.py"
    page = ROOT / entry.page
    assert page.exists(), f"page {entry.page} does not exist"
    assert str(Path(entry.page).with_suffix("")) in toc_files(), f"{entry.page} is not in _toc.yml"


@pytest.mark.parametrize("entry", [e for e in CATALOG if e.make is not None], ids=ids)
def test_technique_trains_two_steps(entry):
    tech = entry.make()
    assert isinstance(tech, Technique)
    torch.manual_seed(0)
    x, y = tiny_images(32, 16)
    st = train(FastCNN((8, 8, 8)), ImageLoader(x, y, 8, seed=0), budget=Budget(2, "steps"),
               optimizer=lambda p: torch.optim.SGD(p, lr=0.01), techniques=[tech], device="cpu")
    assert st.counters.step == 2 and torch.isfinite(st.loss)


@pytest.mark.parametrize("part", list(SUBSECTIONS))
def test_every_technique_module_has_a_card(part):
    for f in sorted((ROOT / "accel_lib" / part).glob("*.py")):
        if f.name.startswith("_"):
            continue
        doc = importlib.import_module(f"accel_lib.{part}.{f.stem}").__doc__ or ""
        missing = [k for k in CARD_FIELDS if k not in doc]
        assert not missing, f"{f.relative_to(ROOT)}: card lacks {missing}"
