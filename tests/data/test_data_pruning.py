import math

import pytest
import torch
import torch.nn.functional as F

from accel_lib.data import el2n_scores, forgetting_events, proxy_scores, prune_dataset, prune_indices


class _Fixed(torch.nn.Module):
    def __init__(self, logits):
        super().__init__()
        self.logits = logits
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return self.logits[: len(x)] + 0 * self.w


def test_el2n_closed_form():
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    y = torch.tensor([0, 2])
    s = el2n_scores(_Fixed(logits), torch.zeros(2, 3, 4, 4), y, num_classes=3)
    p = F.softmax(logits, -1)
    ref = torch.stack([(p[0] - torch.tensor([1.0, 0, 0])).norm(), (p[1] - torch.tensor([0, 0, 1.0])).norm()])
    assert torch.allclose(s, ref)
    assert math.isclose(s[1].item(), math.sqrt(2 * (1 / 3) ** 2 + (2 / 3) ** 2), rel_tol=1e-6)


def test_forgetting_events_closed_form():
    hist = torch.tensor([[1, 0, 0, 1], [0, 1, 0, 1], [1, 0, 0, 1], [0, 1, 0, 1]], dtype=torch.bool)
    ev = forgetting_events(hist)
    assert ev.tolist() == [2.0, 1.0, float("inf"), 0.0]


def test_prune_indices():
    s = torch.tensor([0.5, 0.1, 0.9, 0.3])
    assert prune_indices(s, 0.5, "hardest").tolist() == [0, 2]
    assert prune_indices(s, 0.5, "easiest").tolist() == [1, 3]
    assert len(prune_indices(s, 0.75, "random", torch.Generator().manual_seed(0))) == 3
    x, y = torch.zeros(4, 3, 2, 2, dtype=torch.uint8), torch.arange(4)
    xs, ys, idx = prune_dataset(x, y, s, 0.5)
    assert torch.equal(ys, torch.tensor([0, 2])) and xs.shape[0] == 2


def test_bad_input():
    with pytest.raises(ValueError, match="keep must be in"):
        prune_indices(torch.ones(3), 0.0)
    with pytest.raises(ValueError, match="which must be"):
        prune_indices(torch.ones(3), 0.5, "middle")
    with pytest.raises(ValueError, match="one score per example"):
        prune_dataset(torch.zeros(3, 3, 2, 2), torch.zeros(3, dtype=torch.long), torch.ones(2), 0.5)
    with pytest.raises(ValueError, match="bool tensor"):
        forgetting_events(torch.ones(2, 3))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 10\)"):
        el2n_scores(_Fixed(torch.zeros(2, 10)), torch.zeros(2, 3, 4, 4), torch.tensor([0, 10]))


@pytest.mark.slow
def test_proxy_scores_on_cifar(cifar10):
    d = cifar10.subset(256, 10, seed=1)
    out = proxy_scores(d.train_x, d.train_y, epochs=2, batch_size=64)
    assert out["el2n"].shape == (256,) and out["forgetting"].shape == (256,)
    assert 0.0 <= out["el2n"].min() and out["el2n"].max() <= math.sqrt(2) + 1e-6
    # examples the proxy gets right end with lower EL2N than those it gets wrong
    hard = torch.isinf(out["forgetting"])
    assert out["el2n"][~hard].mean() < out["el2n"][hard].mean()
