import pytest
import torch

from accel_lib.core import Budget, ConflictError, ImageLoader, train
from accel_lib.data import InfoBatch, SelectiveBackprop, infobatch_plan

from tests.conftest import tiny_images
from tests.data._helpers import tiny_cnn


def test_plan_keeps_unseen_and_hard_examples():
    scores = torch.tensor([0.1, 0.2, 5.0, 6.0, 0.0, 0.0])
    seen = torch.tensor([True, True, True, True, False, False])
    idx, w = infobatch_plan(scores, seen, 0.5, torch.Generator().manual_seed(0))
    kept = set(idx.tolist())
    assert {2, 3, 4, 5} <= kept
    for i, wi in zip(idx.tolist(), w.tolist()):
        assert wi == (2.0 if i in (0, 1) else 1.0)


def test_rescaling_is_unbiased():
    g = torch.Generator().manual_seed(0)
    scores = torch.rand(50, generator=g)
    seen = torch.ones(50, dtype=torch.bool)
    total = torch.zeros(50)
    n = 1000
    for _ in range(n):
        idx, w = infobatch_plan(scores, seen, 0.7, g)
        total[idx] += w
    # E[weight * kept] = 1 for every example: the pass's weighted loss sum is unbiased
    assert (total / n - 1).abs().max() < 0.2
    assert abs((total / n).mean().item() - 1) < 0.03


def test_trains_fewer_examples_and_anneals():
    x, y = tiny_images(64, 8)
    ib = InfoBatch(epochs=4, prune_ratio=0.5, anneal=0.25)
    loader = ib.loader(x, y, 8)
    st = train(tiny_cnn(), loader, budget=Budget(4, "epochs"), techniques=[ib], device="cpu",
               optimizer=lambda p: torch.optim.SGD(p, lr=0.05))
    assert len(ib.pass_sizes) == 4
    assert ib.pass_sizes[0] == 64 and ib.pass_sizes[-1] == 64          # first unseen, last annealed
    assert all(s < 64 for s in ib.pass_sizes[1:3])
    assert st.counters.samples == sum(ib.pass_sizes) < 4 * 64
    assert 0 < ib.saved_fraction < 0.5


def test_needs_its_loader_and_conflicts():
    x, y = tiny_images(16, 8)
    opt = lambda p: torch.optim.SGD(p, lr=0.1)  # noqa: E731
    ib = InfoBatch(epochs=1)
    with pytest.raises(ValueError, match="loader it builds"):
        train(tiny_cnn(), ImageLoader(x, y, 8), budget=Budget(1), techniques=[ib], device="cpu", optimizer=opt)
    with pytest.raises(ConflictError):
        train(tiny_cnn(), ib.loader(x, y, 8), budget=Budget(1), device="cpu", optimizer=opt,
              techniques=[SelectiveBackprop(), ib])
    with pytest.raises(ValueError, match="prune_ratio"):
        InfoBatch(prune_ratio=1.0)
