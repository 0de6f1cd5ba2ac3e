import pytest
import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from accel_lib.core import Budget, ImageLoader, train
from accel_lib.optim.ema import EMA
from tests.conftest import tiny_images


def _net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                               torch.nn.Flatten(), torch.nn.Linear(4 * 36, 10))


@pytest.mark.parametrize("use_buffers", [False, True])
def test_matches_torch_averaged_model(use_buffers):
    x, y = tiny_images(96, 8)
    ema = EMA(decay=0.9, use_buffers=use_buffers)
    ref = {}

    class Ref(EMA):  # a spy that updates torch's AveragedModel after every step, like the loop does
        def after_step(self, state):
            if "m" not in ref:
                ref["m"] = AveragedModel(state.model, multi_avg_fn=get_ema_multi_avg_fn(0.9), use_buffers=use_buffers)
            ref["m"].update_parameters(state.model)
    train(_net(), ImageLoader(x, y, 16), budget=Budget(6, "steps"), techniques=[ema, Ref()],
          optimizer=lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9), device="cpu")
    ours, theirs = ema.module.state_dict(), ref["m"].module.state_dict()
    for k in ours:
        if ours[k].is_floating_point():
            assert torch.allclose(ours[k], theirs[k], atol=1e-6), k
    assert ema.n_averaged == 6


def test_decay_one_keeps_the_first_model_and_decay_zero_is_the_last():
    x, y = tiny_images(64, 8)
    for decay in (0.0, 1.0):
        ema = EMA(decay=decay)
        st = train(_net(), ImageLoader(x, y, 16), budget=Budget(4, "steps"), techniques=[ema],
                   optimizer=lambda p: torch.optim.SGD(p, lr=0.1), device="cpu")
        if decay == 0.0:
            assert all(torch.equal(a, b) for a, b in zip(ema.module.parameters(), st.model.parameters()))
        else:
            assert not any(torch.equal(a, b) for a, b in zip(ema.module.parameters(), st.model.parameters()))


def test_resume_is_exact(tmp_path):
    x, y = tiny_images(64, 8)
    kw = dict(optimizer=lambda p: torch.optim.SGD(p, lr=0.1), device="cpu")
    full = EMA(decay=0.8)
    train(_net(), ImageLoader(x, y, 16), budget=Budget(6, "steps"), techniques=[full], **kw)
    ck = tmp_path / "ck.pt"
    half = EMA(decay=0.8)
    train(_net(), ImageLoader(x, y, 16), budget=Budget(3, "steps"), techniques=[half], checkpoint=ck, **kw)
    resumed = EMA(decay=0.8)
    train(_net(), ImageLoader(x, y, 16), budget=Budget(6, "steps"), techniques=[resumed], checkpoint=ck, **kw)
    for a, b in zip(full.module.parameters(), resumed.module.parameters()):
        assert torch.allclose(a, b, atol=1e-6)


@pytest.mark.parametrize("kw", [dict(decay=1.5), dict(start=1.0), dict(every=0)])
def test_bad_arguments(kw):
    with pytest.raises(ValueError, match="must"):
        EMA(**kw)
