import pytest
import torch

from accel_lib.core import Budget, ImageLoader, train
from accel_lib.optim.batch_ramp import BatchRampLoader, equivalent_lr_multipliers, ramp_batch_sizes
from accel_lib.optim.schedules import step_decay
from tests.conftest import tiny_images


def test_batch_sizes_mirror_a_step_schedule():
    bs = ramp_batch_sizes(32, (0.5, 0.75), 4, 8)
    assert bs == [32] * 4 + [128] * 2 + [512] * 2
    lr = step_decay((0.5, 0.75), 0.25)
    # the noise scale lr / B of the ramp equals the step schedule's at every epoch
    assert equivalent_lr_multipliers(bs) == pytest.approx([lr(e / 8) for e in range(8)])


def test_loader_visits_every_example_once_per_epoch_with_growing_batches():
    x, y = tiny_images(64, 8)
    y = torch.arange(64)
    ld = BatchRampLoader(x, y, [8, 16, 32], seed=1)
    for e, b in enumerate([8, 16, 32]):
        batches = list(ld.iter_epoch(e))
        assert {bt.size for bt in batches} == {b}
        assert sorted(torch.cat([bt.y for bt in batches]).tolist()) == list(range(64))


def test_fewer_steps_for_the_same_epochs_in_the_loop():
    x, y = tiny_images(64, 8)
    net = lambda: torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 64, 10))
    opt = lambda p: torch.optim.SGD(p, lr=0.01)
    fixed = train(net(), ImageLoader(x, y, 8), budget=Budget(3, "epochs"), optimizer=opt, device="cpu")
    ramp = train(net(), BatchRampLoader(x, y, [8, 16, 32]), budget=Budget(3, "epochs"), optimizer=opt, device="cpu")
    assert fixed.counters.step == 24 and ramp.counters.step == 8 + 4 + 2
    assert ramp.counters.samples == fixed.counters.samples == 192


def test_bad_arguments():
    with pytest.raises(ValueError, match="must"):
        ramp_batch_sizes(0, (0.5,), 2, 4)
    with pytest.raises(ValueError, match="fractions"):
        ramp_batch_sizes(8, (1.5,), 2, 4)
    x, y = tiny_images(16, 8)
    with pytest.raises(ValueError, match="batch_sizes"):
        BatchRampLoader(x, y, [8, 32])
