import pytest
import torch

from accel_lib.core import Batch, Budget, ImageLoader, count_flops, default_loss, train
from accel_lib.data import SelectiveBackprop, select_top_loss, selection_probability
from accel_lib.data._util import per_example_losses

from tests.conftest import tiny_images
from tests.data._helpers import fake_state, tiny_cnn


def test_select_top_loss_closed_form():
    losses = torch.tensor([0.3, 2.0, 0.1, 5.0, 1.0, 0.0])
    assert select_top_loss(losses, 0.5).tolist() == [1, 3, 4]
    assert select_top_loss(losses, 0.01).tolist() == [3]
    assert select_top_loss(losses, 1.0).tolist() == list(range(6))


def test_selection_probability_is_cdf_power():
    hist = torch.arange(10.0)
    p = selection_probability(torch.tensor([-1.0, 4.0, 100.0]), hist, beta=2.0)
    assert torch.allclose(p, torch.tensor([0.0, 0.25, 1.0]))


def test_scoring_leaves_the_model_unchanged():
    model = tiny_cnn()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    per_example_losses(model, torch.randn(8, 3, 8, 8), torch.randint(0, 10, (8,)))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_keeps_the_highest_losses():
    model = tiny_cnn()
    b = Batch(torch.randn(10, 3, 8, 8), torch.randint(0, 10, (10,)))
    losses = per_example_losses(model, b.x, b.y)
    out = SelectiveBackprop(fraction=0.3).on_batch(b, fake_state(model))
    top = losses.topk(3).indices.sort().values
    assert torch.equal(out.x, b.x[top]) and torch.equal(out.y, b.y[top])


def test_claim_examples_backpropagated_and_flops():
    x, y = tiny_images(64, 16)
    sb = SelectiveBackprop(fraction=0.5)
    st = train(tiny_cnn(), ImageLoader(x, y, 16), budget=Budget(4), techniques=[sb], device="cpu",
               optimizer=lambda p: torch.optim.SGD(p, lr=0.01))
    assert st.counters.samples == 32 and sb.forwarded == 64 and st.extras["selective_backprop"]["selected"] == 32
    model = tiny_cnn()
    b = Batch(torch.randn(16, 3, 16, 16), torch.randint(0, 10, (16,)))

    def step(tech):
        bb = tech.on_batch(b, fake_state(model)) if tech else b
        default_loss(model(bb.x), bb.y).mean().backward()
    base = count_flops(lambda: step(None))
    sel = count_flops(lambda: step(SelectiveBackprop(fraction=0.25)))
    fwd = count_flops(lambda: model(b.x))
    assert sel == pytest.approx(fwd + 0.25 * base, rel=0.01)   # scoring forward + 1/4 of a step
    assert sel < 0.8 * base                                    # cheaper than a full step here


def test_probabilistic_rule_and_bad_input():
    model = tiny_cnn()
    sb = SelectiveBackprop(beta=1.0)
    for _ in range(3):
        out = sb.on_batch(Batch(torch.randn(32, 3, 8, 8), torch.randint(0, 10, (32,))), fake_state(model))
        assert 1 <= out.size <= 32
    with pytest.raises(ValueError, match="fraction must be in"):
        select_top_loss(torch.ones(3), 0.0)
    with pytest.raises(ValueError, match="vector"):
        select_top_loss(torch.ones(3, 2), 0.5)
    with pytest.raises(ValueError, match="history is empty"):
        selection_probability(torch.ones(2), torch.empty(0))
