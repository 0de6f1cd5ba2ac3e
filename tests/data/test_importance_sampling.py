import pytest
import torch

from accel_lib.core import Batch, Budget, ConflictError, ImageLoader, count_flops, default_loss, train
from accel_lib.data import ImportanceSampling, SelectiveBackprop, importance_probabilities, importance_sample

from tests.conftest import tiny_images
from tests.data._helpers import fake_state, tiny_cnn


def test_weights_are_unbiased_exactly():
    losses = torch.tensor([0.1, 2.0, 0.5, 3.0, 0.01, 1.2])
    for s in (0.0, 0.1, 0.5):
        p = importance_probabilities(losses, s)
        assert torch.allclose(p.sum(), torch.tensor(1.0))
        w = 1.0 / (len(p) * p)
        # E_{i~p}[w_i * l_i] = sum_i p_i * l_i / (B p_i) = mean(l)
        assert torch.allclose((p * w * losses).sum(), losses.mean(), atol=1e-6)


def test_weighted_gradient_is_unbiased_statistically():
    torch.manual_seed(0)
    model = torch.nn.Linear(5, 3)
    x, y = torch.randn(32, 5), torch.randint(0, 3, (32,))
    full = torch.autograd.grad(default_loss(model(x), y).mean(), model.weight)[0]
    with torch.no_grad():
        losses = default_loss(model(x), y)
    per_ex = torch.stack([torch.autograd.grad(default_loss(model(x[i:i + 1]), y[i:i + 1]).sum(), model.weight)[0]
                          for i in range(32)])                      # (32, 3, 5) per-example gradients
    g, n, k = torch.Generator().manual_seed(1), 20000, 4
    idx, w = importance_sample(losses, n * k, 0.1, g)               # n batches of k draws
    est = (w[:, None, None] * per_ex[idx]).view(n, k, 3, 5).mean(1)  # each batch's weighted gradient
    assert (est.mean(0) - full).norm() < 0.03 * full.norm()
    # and it is a better estimate than a uniform batch of the same size (the point of it)
    u = per_ex[torch.randint(0, 32, (n * k,), generator=g)].view(n, k, 3, 5).mean(1)
    assert ((est - full) ** 2).sum((1, 2)).mean() < ((u - full) ** 2).sum((1, 2)).mean()


def test_prefers_high_loss_and_smoothing_one_is_uniform():
    losses = torch.tensor([0.0, 1.0, 3.0])
    p = importance_probabilities(losses, 0.0)
    assert torch.allclose(p, torch.tensor([0.0, 0.25, 0.75]))
    assert torch.allclose(importance_probabilities(losses, 1.0), torch.full((3,), 1 / 3))


def test_claim_examples_backpropagated_and_flops():
    x, y = tiny_images(64, 16)
    model = tiny_cnn()
    t = ImportanceSampling(fraction=0.25)
    st = train(model, ImageLoader(x, y, 16), budget=Budget(3), techniques=[t], device="cpu",
               optimizer=lambda p: torch.optim.SGD(p, lr=0.01))
    assert st.counters.samples == 3 * 4 and t.forwarded == 3 * 16
    # FLOPs of one step: a no-grad forward of 16 plus forward+backward of 4
    b = Batch(torch.randn(16, 3, 16, 16), torch.randint(0, 10, (16,)))

    def step(tech):
        bb = tech.on_batch(b, fake_state(model)) if tech else b
        (default_loss(model(bb.x), bb.y) * (1 if bb.weight is None else bb.weight)).mean().backward()
    base, ours = count_flops(lambda: step(None)), count_flops(lambda: step(ImportanceSampling(fraction=0.25)))
    fwd = count_flops(lambda: model(b.x))
    assert ours == pytest.approx(fwd + 0.25 * base, rel=0.01)


def test_bad_input_and_conflict():
    with pytest.raises(ValueError, match="finite and >= 0"):
        importance_probabilities(torch.tensor([1.0, -1.0]))
    with pytest.raises(ValueError, match="smoothing"):
        importance_probabilities(torch.tensor([1.0]), 2.0)
    with pytest.raises(ValueError, match="fraction"):
        ImportanceSampling(fraction=0)
    x, y = tiny_images(16, 8)
    with pytest.raises(ConflictError, match="cannot be combined"):
        train(tiny_cnn(), ImageLoader(x, y, 8), budget=Budget(1), device="cpu",
              techniques=[ImportanceSampling(), SelectiveBackprop()], optimizer=lambda p: torch.optim.SGD(p, lr=0.1))
