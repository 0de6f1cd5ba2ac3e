"""fp16 weights with fp32 master weights: the update is not lost, training tracks fp32."""
import pytest
import torch
from torch import nn

from accel_lib.core import Budget, ImageLoader, train
from accel_lib.system.loss_scaling import DynamicLossScaler
from accel_lib.system.master_weights import (HalfPrecision, HalfPrecisionModel, MasterWeightOptimizer,
                                             apply_half_precision, with_master_weights)
from tests.conftest import tiny_images


def test_small_updates_survive_only_with_master_weights():
    # 1 + 1e-4 rounds back to 1 in fp16 (spacing 2^-10 near 1): a naive fp16 update is lost
    w16 = nn.Parameter(torch.ones(4, dtype=torch.float16))
    opt = MasterWeightOptimizer([w16], lambda p: torch.optim.SGD(p, lr=1e-4))
    naive = nn.Parameter(torch.ones(4, dtype=torch.float16))
    naive_opt = torch.optim.SGD([naive], lr=1e-4)
    for _ in range(20):
        (w16.float().sum() * -1).backward()
        (naive.float().sum() * -1).backward()
        opt.step(), opt.zero_grad(), naive_opt.step(), naive_opt.zero_grad()
    assert torch.equal(naive.detach(), torch.ones(4, dtype=torch.float16))          # lost
    assert torch.allclose(opt.master[0].detach(), torch.full((4,), 1 + 20e-4), atol=1e-6)  # kept
    assert float(w16.detach()[0]) > 1.0                                                       # and rounded in


def test_gradients_move_to_fp32_master_and_accumulate():
    w = nn.Parameter(torch.ones(3, dtype=torch.float16))
    opt = MasterWeightOptimizer([w], lambda p: torch.optim.SGD(p, lr=0.1))
    (w.float() * 2).sum().backward()
    (w.float() * 3).sum().backward()
    assert w.grad is None and opt.master[0].grad.dtype == torch.float32
    assert torch.equal(opt.master[0].grad, torch.full((3,), 5.0))


def _train_losses(mode, steps=12):
    x, y = tiny_images(96, 16, seed=1)
    loader = ImageLoader(x, y, 32, seed=0)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.GELU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(8 * 8 * 8, 10))
    sgd = lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9)  # noqa: E731
    kw = dict(budget=Budget(steps, "steps"), device="cpu", log_every=1)
    if mode == "fp32":
        st = train(model, loader, optimizer=sgd, **kw)
    elif mode == "fp16_master":
        st = train(model, loader, optimizer=with_master_weights(sgd), techniques=[HalfPrecision("fp16")],
                   scaler=DynamicLossScaler(), **kw)
    else:
        from accel_lib.system.mixed_precision import autocast
        st = train(model, loader, optimizer=sgd, autocast=autocast(mode, "cpu"),
                   scaler=DynamicLossScaler() if mode == "fp16" else None, **kw)
    return torch.tensor([h["loss"] for h in st.history])


@pytest.mark.parametrize("mode,tol", [("fp16_master", 0.02), ("bf16", 0.05), ("fp16", 0.02)])
def test_low_precision_training_tracks_fp32(mode, tol):
    ref = _train_losses("fp32")
    got = _train_losses(mode)
    rel = ((got - ref).abs() / ref).max().item()
    assert rel < tol, f"{mode}: max relative loss difference {rel:.4f} >= {tol}"
    assert got[-1] < got[0]          # it learns


def test_half_precision_wrapper_casts_at_the_boundary():
    m = apply_half_precision(nn.Linear(4, 2), "bf16")
    assert isinstance(m, HalfPrecisionModel) and m.module.weight.dtype == torch.bfloat16
    out = m(torch.randn(3, 4))
    assert out.dtype == torch.float32
    with pytest.raises(ValueError, match="bf16"):
        apply_half_precision(nn.Linear(4, 2), torch.float64)


def test_state_dict_round_trip():
    w = nn.Parameter(torch.ones(3, dtype=torch.float16))
    opt = MasterWeightOptimizer([w], lambda p: torch.optim.Adam(p, lr=0.1))
    w.float().sum().backward()
    opt.step()
    sd = opt.state_dict()
    w2 = nn.Parameter(torch.zeros(3, dtype=torch.float16))
    opt2 = MasterWeightOptimizer([w2], lambda p: torch.optim.Adam(p, lr=0.1))
    opt2.load_state_dict(sd)
    assert torch.equal(opt2.master[0], opt.master[0]) and torch.equal(w2, w)
    with pytest.raises(ValueError, match="no trainable"):
        MasterWeightOptimizer([], lambda p: torch.optim.SGD(p, lr=0.1))


def test_master_weights_with_gradscaler_or_ours_identical():
    x, y = tiny_images(64, 8, seed=2)
    loader = ImageLoader(x, y, 16, seed=0)

    def run(scaler):
        torch.manual_seed(0)
        m = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 32), nn.GELU(), nn.Linear(32, 10))
        st = train(m, loader, budget=Budget(6, "steps"), device="cpu", log_every=1, scaler=scaler,
                   optimizer=with_master_weights(lambda p: torch.optim.SGD(p, lr=0.1)),
                   techniques=[HalfPrecision("fp16")])
        return [h["loss"] for h in st.history], [p.detach().clone() for p in st.model.parameters()]
    (l1, p1), (l2, p2) = run(DynamicLossScaler(init_scale=2.0 ** 24, growth_interval=2)), \
        run(torch.amp.GradScaler("cpu", init_scale=2.0 ** 24, growth_interval=2))
    assert l1 == l2 and all(torch.equal(a, b) for a, b in zip(p1, p2))
