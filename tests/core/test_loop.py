"""The loop: hook order, stages, conflicts, budgets, accumulation, evaluation, closures."""
from dataclasses import dataclass, field

import pytest
import torch
from torch import nn

from accel_lib.core import Batch, Budget, ConflictError, ImageLoader, Stage, Technique, train
from tests.conftest import tiny_images


def tiny_model():
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 10))


def tiny_loader(n=64, bs=16, seed=0):
    x, y = tiny_images(n, 8, seed=seed)
    return ImageLoader(x, y, bs, seed=seed)


def sgd(p):
    return torch.optim.SGD(p, lr=0.1)


@dataclass
class Recorder(Technique):
    log: list = field(default_factory=list)

    def setup_model(self, model, state):
        self.log.append("setup_model")
        return model

    def on_start(self, state):
        assert state.optimizer is not None
        self.log.append("on_start")

    def on_batch(self, batch, state):
        self.log.append("on_batch")
        return batch

    def on_loss(self, loss, output, batch, state):
        self.log.append("on_loss")
        return loss

    def after_backward(self, state):
        assert all(p.grad is not None for p in state.model.parameters())
        self.log.append("after_backward")

    def after_step(self, state):
        self.log.append("after_step")

    def on_end(self, state):
        self.log.append("on_end")


def test_hook_order():
    r = Recorder()
    st = train(tiny_model(), tiny_loader(), budget=Budget(2, "steps"), optimizer=sgd, techniques=[r], device="cpu")
    step = ["on_batch", "on_loss", "after_backward", "after_step"]
    assert r.log == ["setup_model", "on_start"] + step * 2 + ["on_end"]
    assert st.counters.step == 2 and st.counters.samples == 32


def test_setup_model_runs_in_stage_order():
    order = []

    def mk(name, stage):
        cls = type(name, (Technique,), {"stage": stage,
                                        "setup_model": lambda self, m, s: order.append(name) or m})
        return dataclass(cls)()
    ts = [mk("Dist", Stage.DISTRIBUTE), mk("Compile", Stage.COMPILE), mk("Surgery", Stage.SURGERY),
          mk("Mem", Stage.MEMORY), mk("Layout", Stage.LAYOUT)]
    train(tiny_model(), tiny_loader(), budget=Budget(1, "steps"), optimizer=sgd, techniques=ts, device="cpu")
    assert order == ["Surgery", "Layout", "Mem", "Compile", "Dist"]


def test_declared_conflicts_are_refused():
    A = dataclass(type("A", (Technique,), {"conflicts": ("B",)}))
    B = dataclass(type("B", (Technique,), {}))
    with pytest.raises(ConflictError, match="A cannot be combined with B.*Remove one"):
        train(tiny_model(), tiny_loader(), budget=Budget(1, "steps"), optimizer=sgd, techniques=[B(), A()])
    with pytest.raises(ConflictError, match="listed twice"):
        train(tiny_model(), tiny_loader(), budget=Budget(1, "steps"), optimizer=sgd, techniques=[B(), B()])


@pytest.mark.parametrize("budget,steps", [(Budget(3, "steps"), 3), (Budget(2, "epochs"), 8),
                                           (Budget(40, "samples"), 3)])
def test_budget_units_stop_the_run(budget, steps):
    st = train(tiny_model(), tiny_loader(), budget=budget, optimizer=sgd, device="cpu")
    assert st.counters.step == steps and st.progress == 1.0


def test_seconds_budget_with_injected_clock():
    t = [0.0]

    def clock():
        t[0] += 0.5  # every reading advances half a second: each step "takes" 0.5 s
        return t[0]
    seen = []
    st = train(tiny_model(), tiny_loader(), budget=Budget(2.0, "seconds", clock=clock), optimizer=sgd,
               lr_schedule=lambda p: seen.append(p) or 1.0, device="cpu")
    assert st.counters.step == 4 and st.counters.seconds == pytest.approx(2.0)
    assert seen == pytest.approx([0.0, 0.25, 0.5, 0.75])


def test_flops_budget_counts_flops():
    model = tiny_model()
    st = train(model, tiny_loader(), budget=Budget(3 * 16 * 3 * 2 * 192 * 10, "flops"), optimizer=sgd, device="cpu")
    # forward 2*192*10 per example, backward of the weight 2*192*10 (input grads not needed)
    assert st.counters.flops > 0 and st.counters.step >= 1
    assert st.counters.flops == pytest.approx(st.counters.samples * 2 * 2 * 192 * 10)


def test_lr_schedule_sets_lr():
    lrs = []

    @dataclass
    class Spy(Technique):
        def after_backward(self, state):
            lrs.append(state.optimizer.param_groups[0]["lr"])
    train(tiny_model(), tiny_loader(), budget=Budget(4, "steps"), optimizer=sgd, techniques=[Spy()],
          lr_schedule=lambda p: 1 - p, device="cpu")
    assert lrs == pytest.approx([0.1, 0.075, 0.05, 0.025])


def test_accumulation_equals_one_big_batch():
    x, y = tiny_images(32, 8, seed=1)
    torch.manual_seed(0)
    m1 = tiny_model()
    m2 = tiny_model()
    m2.load_state_dict(m1.state_dict())
    train(m1, ImageLoader(x, y, 32, shuffle=False), budget=Budget(1, "steps"), optimizer=sgd, device="cpu")
    train(m2, ImageLoader(x, y, 8, shuffle=False), budget=Budget(1, "steps"), optimizer=sgd, accumulation=4,
          device="cpu")
    for a, b in zip(m1.parameters(), m2.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_weights_and_soft_labels():
    @dataclass
    class Soft(Technique):
        def on_batch(self, batch, state):
            y = torch.nn.functional.one_hot(batch.y, 10).float()
            return Batch(batch.x, y, torch.full((batch.size,), 2.0))
    torch.manual_seed(0)
    m1 = tiny_model()
    m2 = tiny_model()
    m2.load_state_dict(m1.state_dict())
    train(m1, tiny_loader(), budget=Budget(1, "steps"), optimizer=lambda p: torch.optim.SGD(p, lr=0.2), device="cpu")
    train(m2, tiny_loader(), budget=Budget(1, "steps"), optimizer=sgd, techniques=[Soft()], device="cpu")
    for a, b in zip(m1.parameters(), m2.parameters()):  # weight 2 and half the LR: same update
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_evaluation_and_stop_when():
    calls = []

    def evaluate(model):
        assert not model.training
        calls.append(1)
        return {"accuracy": len(calls) / 10}
    st = train(tiny_model(), tiny_loader(), budget=Budget(100, "steps"), optimizer=sgd, evaluate=evaluate,
               eval_every=2, stop_when=lambda m: m["accuracy"] >= 0.3, device="cpu")
    assert st.counters.step == 6 and [e["step"] for e in st.evals] == [2, 4, 6]
    assert st.model.training


def test_closure_optimizers():
    class TwoEval(torch.optim.SGD):
        needs_closure = True
        calls = 0

        def step(self, closure=None):
            TwoEval.calls += 1
            closure()
            return super().step()
    train(tiny_model(), tiny_loader(), budget=Budget(2, "steps"), optimizer=lambda p: TwoEval(p, lr=0.1), device="cpu")
    assert TwoEval.calls == 2


def test_bad_arguments():
    with pytest.raises(ValueError, match="accumulation must be a positive integer"):
        train(tiny_model(), tiny_loader(), budget=Budget(1, "steps"), optimizer=sgd, accumulation=0)
    with pytest.raises(ValueError, match="eval_every"):
        train(tiny_model(), tiny_loader(), budget=Budget(1, "steps"), optimizer=sgd, eval_every=0)
