"""The from-scratch loss scaler makes GradScaler's decisions and works in the training loop."""
import pytest
import torch
from torch import nn

from accel_lib.core import Budget, train
from accel_lib.system.loss_scaling import DynamicLossScaler, grads_finite
from tests.conftest import tiny_images


def _run(scaler, grads_seq, lr=0.1):
    """Feed a fixed sequence of (unscaled) gradients through scale -> unscale_ -> step -> update."""
    p = nn.Parameter(torch.zeros(3))
    opt = torch.optim.SGD([p], lr=lr)
    log = []
    for g in grads_seq:
        # backward of scale(loss) with loss = <g, p> puts S*g in p.grad
        loss = (p * g).sum()
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        before = p.detach().clone()
        scaler.step(opt)
        stepped = not torch.equal(before, p.detach())
        scaler.update()
        opt.zero_grad(set_to_none=True)
        log.append((stepped, float(scaler.get_scale())))
    return log, p.detach().clone()


def _sequence():
    ok = torch.tensor([1.0, -2.0, 0.5])
    seq = [ok * (i + 1) for i in range(7)]
    seq[2] = torch.tensor([float("inf"), 1.0, 1.0])      # injected overflow
    seq[5] = torch.tensor([1.0, float("nan"), 1.0])      # injected NaN
    return seq


@pytest.mark.parametrize("interval", [1, 2, 3])
def test_same_decisions_as_gradscaler(interval):
    kw = dict(init_scale=2.0 ** 10, growth_factor=2.0, backoff_factor=0.5, growth_interval=interval)
    ours, p_ours = _run(DynamicLossScaler(**kw), _sequence())
    ref, p_ref = _run(torch.amp.GradScaler("cpu", **kw), _sequence())
    assert ours == ref
    assert torch.equal(p_ours, p_ref)
    assert [s for s, _ in ours].count(False) == 2           # the two injected steps were skipped


def test_overflow_from_scale_itself_is_skipped_and_backs_off():
    # a finite fp32 gradient that overflows in fp16 once scaled: what loss scaling guards against
    p = nn.Parameter(torch.ones(2, dtype=torch.float16))
    s = DynamicLossScaler(init_scale=2.0 ** 16)
    loss = (p.float() * 4.0).sum()
    s.scale(loss).backward()                     # 4 * 65536 = 262144 > fp16 max: inf
    assert not grads_finite([p])
    master = nn.Parameter(torch.ones(2))
    master.grad = p.grad.float()
    opt = torch.optim.SGD([master], lr=1.0)
    s.step(opt)
    s.update()
    assert torch.equal(master.detach(), torch.ones(2)) and s.get_scale() == 2.0 ** 15 and s.skipped == 1


def test_growth_overflow_keeps_scale():
    s = DynamicLossScaler(init_scale=3e38, growth_interval=1)
    p = nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.0)
    p.grad = torch.ones(1)
    s.step(opt)
    s.update()
    assert s.get_scale() == float(torch.tensor(3e38))    # 6e38 is not a finite fp32: no growth


def test_state_dict_interchangeable_with_gradscaler():
    ours = DynamicLossScaler(init_scale=8.0, growth_interval=5)
    ref = torch.amp.GradScaler("cpu", init_scale=8.0, growth_interval=5)
    assert ours.state_dict() == ref.state_dict()
    ref.load_state_dict(ours.state_dict())
    ours.load_state_dict(ref.state_dict())
    assert ours.get_scale() == 8.0


def test_bad_arguments_and_misuse():
    with pytest.raises(ValueError, match="growth_factor"):
        DynamicLossScaler(growth_factor=1.0)
    with pytest.raises(ValueError, match="backoff_factor"):
        DynamicLossScaler(backoff_factor=1.5)
    with pytest.raises(ValueError, match="growth_interval"):
        DynamicLossScaler(growth_interval=0)
    s = DynamicLossScaler()
    p = nn.Parameter(torch.ones(2, dtype=torch.float16))
    p.grad = torch.ones(2, dtype=torch.float16)
    with pytest.raises(ValueError, match="master weights"):
        s.unscale_(torch.optim.SGD([p], lr=0.1))
    with pytest.raises(RuntimeError, match="step"):
        DynamicLossScaler().update()


def test_usable_in_the_training_loop():
    x, y = tiny_images(16, 8)
    batches = [(x[i:i + 8].float() / 255, y[i:i + 8]) for i in (0, 8)]

    def run(scaler):
        torch.manual_seed(0)
        m = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 10))
        st = train(m, batches, budget=Budget(4, "steps"), optimizer=lambda p: torch.optim.SGD(p, lr=0.1),
                   scaler=scaler, device="cpu", log_every=1)
        return [h["loss"] for h in st.history], st.model[1].weight.detach()
    (l1, w1), (l2, w2) = run(DynamicLossScaler(init_scale=2.0 ** 8)), run(torch.amp.GradScaler("cpu", init_scale=2.0 ** 8))
    assert l1 == l2 and torch.equal(w1, w2)
