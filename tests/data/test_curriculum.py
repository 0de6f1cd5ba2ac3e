import pytest
import torch

from accel_lib.core import Budget, ImageLoader, train
from accel_lib.data import PACINGS, Curriculum, difficulty_order, pacing

from tests.conftest import tiny_images
from tests.data._helpers import tiny_cnn


@pytest.mark.parametrize("kind", PACINGS)
def test_pacing_shapes(kind):
    vals = [pacing(p / 50, kind, 0.2, 0.8) for p in range(51)]
    assert all(a <= b + 1e-12 for a, b in zip(vals, vals[1:]))
    assert vals[-1] == 1.0 and pacing(0.8, kind, 0.2, 0.8) == 1.0
    assert vals[0] == (1.0 if kind == "constant" else 0.2)


def test_pacing_closed_forms():
    assert pacing(0.4, "linear", 0.2, 0.8) == pytest.approx(0.6)
    assert pacing(0.2, "root", 0.0001, 0.8) == pytest.approx(0.0001 + 0.9999 * 0.5)
    assert pacing(0.4, "quadratic", 0.2, 0.8) == pytest.approx(0.2 + 0.8 * 0.25)
    assert pacing(0.3, "step", 0.2, 0.8, steps=4) == pytest.approx(0.2 + 0.8 * 0.25)


def test_orders():
    s = torch.tensor([0.3, 0.1, 0.9])
    assert difficulty_order(s).tolist() == [1, 0, 2]
    assert difficulty_order(s, "hard_first").tolist() == [2, 0, 1]
    assert sorted(difficulty_order(s, "random", torch.Generator().manual_seed(0)).tolist()) == [0, 1, 2]


def test_class_balanced_order():
    labels = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    scores = torch.tensor([0.1, 0.2, 0.3, 0.4, 0.9, 1.0, 1.1, 1.2])   # class 0 is all easier
    assert difficulty_order(scores)[:4].tolist() == [0, 1, 2, 3]
    bal = difficulty_order(scores, labels=labels)
    assert sorted(labels[bal[:4]].tolist()) == [0, 0, 1, 1]           # every prefix is balanced
    assert bal[:2].tolist() in ([0, 4], [4, 0])                       # easiest of each class first
    hard = difficulty_order(scores, "hard_first", labels=labels)
    assert set(hard[:2].tolist()) == {3, 7}


def test_early_batches_come_from_the_easiest_pool():
    x, y = tiny_images(100, 8)
    scores = torch.arange(100.0).flip(0)            # example 99 is the easiest
    cur = Curriculum("linear", start=0.2, saturate=0.8)
    loader = cur.loader(x, y, scores, 10)
    first = next(loader.iter_epoch(0))
    idx = loader.pending[-1]
    assert set(idx.tolist()) <= set(range(80, 100)) and first.size == 10
    st = train(tiny_cnn(), loader, budget=Budget(10), techniques=[cur], device="cpu",
               optimizer=lambda p: torch.optim.SGD(p, lr=0.05))
    assert st.extras["curriculum_pool"] == 100


def test_bad_input():
    with pytest.raises(ValueError, match="unknown pacing"):
        pacing(0.5, "cubic")
    with pytest.raises(ValueError, match="start must be in"):
        Curriculum(start=0.0)
    with pytest.raises(ValueError, match="order must be"):
        Curriculum(order="sideways")
    x, y = tiny_images(16, 8)
    with pytest.raises(ValueError, match="one difficulty score"):
        Curriculum().loader(x, y, torch.ones(3), 4)
    with pytest.raises(ValueError, match="loader it builds"):
        train(tiny_cnn(), ImageLoader(x, y, 4), budget=Budget(1), techniques=[Curriculum()], device="cpu",
              optimizer=lambda p: torch.optim.SGD(p, lr=0.1))
