import pytest
import torch
import torch.nn.utils.prune as prune


from accel_lib.model.magnitude_pruning import (GradualMagnitudePruning, density_report, global_magnitude_masks,
                                               gmp_schedule, magnitude_mask, prunable_weights)
from tests.model.helpers import train_cnn


@pytest.mark.parametrize("amount", [0.0, 0.3, 0.77, 0.9])
def test_masks_match_torch_prune(amount):
    torch.manual_seed(0)
    lin = torch.nn.Linear(20, 13)
    w = lin.weight.detach().clone()
    prune.l1_unstructured(lin, "weight", amount=amount)
    assert torch.equal(magnitude_mask(w, amount), lin.weight_mask)


def test_global_masks_match_torch_prune():
    torch.manual_seed(0)
    a, b = torch.nn.Linear(10, 8), torch.nn.Conv2d(3, 4, 3)
    ws = [a.weight.detach().clone(), b.weight.detach().clone()]
    prune.global_unstructured([(a, "weight"), (b, "weight")], pruning_method=prune.L1Unstructured, amount=0.6)
    ours = global_magnitude_masks(ws, 0.6)
    assert torch.equal(ours[0], a.weight_mask) and torch.equal(ours[1], b.weight_mask)


def test_schedule_shape():
    assert gmp_schedule(0.0, 0.9) == 0.0 and gmp_schedule(0.05, 0.9) == 0.0
    assert gmp_schedule(0.7, 0.9) == pytest.approx(0.9) and gmp_schedule(1.0, 0.9) == pytest.approx(0.9)
    xs = [gmp_schedule(t / 20, 0.9) for t in range(21)]
    assert xs == sorted(xs)
    assert gmp_schedule(0.4, 0.9) == pytest.approx(0.9 * (1 - 0.5 ** 3))   # cubic: fast early, slow late


def test_training_reaches_target_sparsity_and_keeps_zeros():
    t = GradualMagnitudePruning(final_sparsity=0.75, start=0.0, end=0.5, update_every=0.1)
    st = train_cnn([t], steps=6)
    ws = [p for _, p in prunable_weights(st.model)][:-1]
    for w in ws:
        assert (w == 0).float().mean().item() == pytest.approx(0.75, abs=0.01)
    rep = density_report(st.model)
    assert rep["density"] < 0.3 and rep["bitmap_bytes"] < rep["dense_bytes"]


def test_bad_sparsity_raises():
    for s in (1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match=r"\[0, 1\)"):
            magnitude_mask(torch.ones(3), s)
        with pytest.raises(ValueError, match=r"\[0, 1\)"):
            GradualMagnitudePruning(final_sparsity=s)
    with pytest.raises(ValueError, match="start < end"):
        gmp_schedule(0.5, 0.5, start=0.8, end=0.2)
