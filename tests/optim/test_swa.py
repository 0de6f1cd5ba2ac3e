import pytest
import torch
from torch.optim.swa_utils import AveragedModel, update_bn as torch_update_bn

from accel_lib.core import Budget, ImageLoader, train
from accel_lib.optim.swa import SWA, swa_schedule, update_bn
from tests.conftest import tiny_images


def _net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                               torch.nn.Flatten(), torch.nn.Linear(4 * 36, 10))


def test_matches_torch_swa_utils_with_update_bn():
    x, y = tiny_images(96, 8)
    swa = SWA(start=0.5)
    ref = {}

    class Ref(SWA):
        def on_end(self, state):
            pass

        def after_step(self, state):
            if state.progress >= 0.5:
                if "m" not in ref:
                    ref["m"] = AveragedModel(state.model)
                ref["m"].update_parameters(state.model)
    loader = ImageLoader(x, y, 16)
    train(_net(), loader, budget=Budget(8, "steps"), techniques=[swa, Ref()],
          optimizer=lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9), device="cpu")
    torch_update_bn([(b.x, b.y) for b in loader.iter_epoch(0)], ref["m"])
    assert swa.n_averaged == 4 == int(ref["m"].n_averaged)
    ours, theirs = swa.module.state_dict(), ref["m"].module.state_dict()
    for k in ours:
        assert torch.allclose(ours[k].float(), theirs[k].float(), atol=1e-5), k


def test_update_bn_matches_torch():
    m1, m2 = _net(), _net()
    batches = [torch.randn(8, 3, 8, 8, generator=torch.Generator().manual_seed(i)) for i in range(3)]
    update_bn(batches, m1)
    torch_update_bn(batches, m2)
    for a, b in zip(m1.state_dict().values(), m2.state_dict().values()):
        assert torch.allclose(a.float(), b.float(), atol=1e-6)
    assert m1[1].momentum == 0.1


def test_schedule_shape():
    f = swa_schedule(0.75, 0.05)
    assert f(0.0) == pytest.approx(1.0) and f(0.75) == 0.05 and f(0.99) == 0.05
    assert f(0.375) == pytest.approx(0.525)


@pytest.mark.parametrize("bad", [lambda: SWA(start=1.0), lambda: SWA(every=0), lambda: swa_schedule(0.0),
                                 lambda: swa_schedule(0.5, -0.1)])
def test_bad_arguments(bad):
    with pytest.raises(ValueError, match="must"):
        bad()
