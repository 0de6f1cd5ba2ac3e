"""Atomic writes and exact resume."""
import os
from dataclasses import dataclass, field

import pytest
import torch
from torch import nn

from accel_lib.core import Budget, ImageLoader, Technique, atomic_save, safe_load, train
from accel_lib.core.checkpoint import load_checkpoint
from tests.conftest import tiny_images


class Interrupt(Exception):
    pass


@dataclass
class CrashAt(Technique):
    """Simulates a crash (power cut, pre-emption) right after step ``at``."""
    at: int = 0

    def after_step(self, state):
        if state.counters.step == self.at:
            raise Interrupt


@dataclass
class Counter(Technique):
    """A stateful technique: its state must survive the restart."""
    seen: int = 0

    def after_step(self, state):
        self.seen += 1

    def state_dict(self):
        return {"seen": self.seen}

    def load_state_dict(self, d):
        self.seen = d["seen"]


def make(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 32), nn.Dropout(0.3), nn.ReLU(), nn.Linear(32, 10))


def run(path=None, crash_at=None, every=None):
    x, y = tiny_images(80, 8, seed=3)
    loader = ImageLoader(x, y, 16, crop_pad=2, flip=True, seed=7)  # 5 batches per epoch
    ts = [Counter()] + ([CrashAt(crash_at)] if crash_at else [])
    opt = lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9)  # noqa: E731 (momentum: optimizer state matters)
    model = make()
    st = train(model, loader, budget=Budget(13, "steps"), optimizer=opt, techniques=ts, lr_schedule=lambda p: 1 - p,
               checkpoint=path, checkpoint_every=every, device="cpu")
    return st, ts[0]


def test_interrupted_and_resumed_run_ends_with_identical_weights(tmp_path):
    ref, _ = run()
    ck = tmp_path / "run.pt"
    with pytest.raises(Interrupt):
        run(ck, crash_at=7, every=1)  # crash mid-epoch (step 7 of 13, epoch 1 batch 2)
    resumed, counter = run(ck, every=1)
    assert resumed.counters.step == 13 and counter.seen == 13
    for a, b in zip(ref.model.state_dict().values(), resumed.model.state_dict().values()):
        assert torch.equal(a, b)


def test_atomic_save_leaves_old_file_on_failure(tmp_path):
    p = tmp_path / "x.pt"
    atomic_save({"a": torch.ones(2)}, p)

    class Boom:
        def __reduce__(self):
            raise RuntimeError("boom")
    with pytest.raises(RuntimeError):
        atomic_save({"a": Boom()}, p)
    assert torch.equal(safe_load(p)["a"], torch.ones(2))
    assert [f for f in os.listdir(tmp_path) if f.startswith(".tmp")] == []


def test_safe_load_refuses_pickled_code(tmp_path):
    p = tmp_path / "evil.pt"
    torch.save({"f": os.getcwd, "t": torch.ones(1)}, p)
    with pytest.raises(Exception, match="[Ww]eights only"):
        safe_load(p)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        safe_load(tmp_path / "missing.pt")


def test_resume_with_other_techniques_is_refused(tmp_path):
    ck = tmp_path / "run.pt"
    run(ck, every=5)
    x, y = tiny_images(80, 8, seed=3)

    @dataclass
    class Other(Technique):
        pass
    st_model = make()
    with pytest.raises(ValueError, match="no state for technique Other"):
        train(st_model, ImageLoader(x, y, 16), budget=Budget(20, "steps"),
              optimizer=lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9), techniques=[Counter(), Other()],
              checkpoint=ck, device="cpu")
    assert load_checkpoint  # public
