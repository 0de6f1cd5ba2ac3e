import pytest
import torch

from accel_lib.model.magnitude_pruning import prunable_weights
from accel_lib.model.rigl import RigL, drop_fraction_schedule, random_mask, rigl_update
from tests.model.helpers import train_cnn


def test_update_matches_direct_selection():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(50, generator=g)
    grad = torch.randn(50, generator=g)
    mask = random_mask(w, 0.6, g)
    w = w * mask
    new = rigl_update(w, grad, mask, 0.25)
    active = mask.nonzero().flatten()
    k = round(0.25 * len(active))
    dropped = active[w[active].abs().argsort()[:k]]
    inactive = (mask == 0).nonzero().flatten()
    grown = inactive[grad[inactive].abs().argsort(descending=True)[:k]]
    expect = mask.clone()
    expect[dropped] = 0
    expect[grown] = 1
    assert torch.equal(new, expect)
    assert new.sum() == mask.sum()


def test_random_mask_count_and_schedule():
    m = random_mask(torch.empty(10, 10), 0.9, torch.Generator().manual_seed(1))
    assert int(m.sum()) == 10
    assert drop_fraction_schedule(0.0, 0.3, 0.75) == pytest.approx(0.3)
    assert drop_fraction_schedule(0.375, 0.3, 0.75) == pytest.approx(0.15)
    assert drop_fraction_schedule(0.8, 0.3, 0.75) == 0.0


def test_training_keeps_sparsity_and_changes_connectivity():
    t = RigL(sparsity=0.8, update_every=0.2, end=1.0)
    st = train_cnn([t], steps=6)
    ws = [p for _, p in prunable_weights(st.model)][:-1]
    for w, m in zip(ws, t.masks):
        assert int(m.sum()) == w.numel() - round(0.8 * w.numel())
        assert torch.all(w[m == 0] == 0)
    t0 = RigL(sparsity=0.8, update_every=0.2, end=1.0)
    train_cnn([t0], steps=1)
    assert any(not torch.equal(a, b) for a, b in zip(t.masks, t0.masks))


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        RigL(sparsity=1.0)
    with pytest.raises(ValueError, match="must match"):
        rigl_update(torch.ones(3), torch.ones(4), torch.ones(3), 0.1)
    with pytest.raises(ValueError, match="drop_fraction"):
        rigl_update(torch.ones(3), torch.ones(3), torch.ones(3), 1.5)
