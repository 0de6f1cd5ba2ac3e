import pytest
import torch

from accel_lib.core import Budget, ImageLoader, train
from accel_lib.optim.lawa import LAWA, average_state_dicts
from tests.conftest import tiny_images


def _net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                               torch.nn.Flatten(), torch.nn.Linear(4 * 36, 10))


def test_average_of_latest_k_snapshots():
    x, y = tiny_images(64, 8)
    lawa = LAWA(k=3, every=2)
    saved = []

    class Spy(LAWA):
        def after_step(self, state):
            if state.counters.step % 2 == 0:
                saved.append({n: t.detach().clone() for n, t in state.model.state_dict().items()})
    st = train(_net(), ImageLoader(x, y, 16), budget=Budget(10, "steps"), techniques=[lawa, Spy()],
               optimizer=lambda p: torch.optim.SGD(p, lr=0.1), device="cpu")
    assert len(saved) == 5 and len(lawa.snapshots) == 3
    avg = lawa.averaged_model().state_dict()
    for n, _ in st.model.named_parameters():
        assert torch.allclose(avg[n], sum(s[n] for s in saved[-3:]) / 3, atol=1e-6)
    assert torch.equal(avg["1.running_mean"], saved[-1]["1.running_mean"])   # buffers: latest


def test_per_epoch_snapshots():
    x, y = tiny_images(64, 8)
    lawa = LAWA(k=2)
    train(_net(), ImageLoader(x, y, 16), budget=Budget(3, "epochs"), techniques=[lawa],
          optimizer=lambda p: torch.optim.SGD(p, lr=0.1), device="cpu")
    assert len(lawa.snapshots) == 2


def test_errors():
    with pytest.raises(ValueError, match="must"):
        LAWA(k=0)
    with pytest.raises(ValueError, match="no snapshots"):
        LAWA().averaged_model(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="at least one"):
        average_state_dicts([])
