import pytest
import torch
from torch import nn

from accel_lib.core import (Timing, compare, count_flops, fingerprint, format_fingerprint, mfu, peak_flops,
                            provenance, saved_activation_bytes, time_fn, time_to_target)


def test_time_fn_protocol_with_fake_clock():
    calls, t = [], [0.0]

    def clock():
        t[0] += 1.0
        return t[0]
    r = time_fn(lambda: calls.append(1), warmup=3, repeats=4, device="cpu", clock=clock)
    assert len(calls) == 7 and r.times == [1.0] * 4 and r.median == 1.0 and r.spread == (1.0, 1.0)
    with pytest.raises(ValueError):
        time_fn(lambda: None, repeats=0)


def test_timing_stats():
    t = Timing([3.0, 1.0, 2.0, 10.0])
    assert t.median == 2.5 and t.spread == (1.0, 10.0) and t.iqr > 0
    assert "ms" in str(t)


def test_compare_interleaves():
    order = []
    out = compare({"a": lambda: order.append("a"), "b": lambda: order.append("b")}, repeats=3, warmup=0)
    assert order == ["a", "b"] * 3 and len(out["a"].times) == 3


def test_count_flops_linear_closed_form():
    lin = nn.Linear(64, 32, bias=False)
    x = torch.randn(8, 64)
    assert count_flops(lambda: lin(x)) == 2 * 8 * 64 * 32
    assert count_flops(lambda: lin(x).sum().backward()) == 2 * (2 * 8 * 64 * 32) - 0 * 8  # fwd + weight grad
    xr = torch.randn(8, 64, requires_grad=True)
    assert count_flops(lambda: lin(xr).sum().backward()) == 3 * 2 * 8 * 64 * 32  # + input grad


def test_saved_activation_bytes_exact():
    lin1, lin2 = nn.Linear(100, 200), nn.Linear(200, 10)
    x = torch.randn(16, 100)
    r = saved_activation_bytes(lambda: lin2(torch.relu(lin1(x))))
    # saved: x (input of lin1, 16x100), relu output (16x200, saved for relu backward and as lin2 input)
    assert r["activations"] == 4 * (16 * 100 + 16 * 200)
    # lin2's weight is saved (to compute the gradient of its input); lin1's is not (x needs no grad)
    assert r["parameters"] == 4 * (10 * 200)


def test_mfu_and_peak():
    assert mfu(1e12, 1.0, 4e12) == 0.25
    with pytest.raises(ValueError):
        mfu(1.0, 0.0, 1.0)
    peak, source = peak_flops("cpu")
    assert peak > 1e8 and "measured" in source


def test_fingerprint_and_provenance():
    d = fingerprint()
    assert {"device", "cpu", "threads", "torch", "accel_lib"} <= set(d)
    assert "torch " + torch.__version__ in format_fingerprint(d)
    p = provenance("python x.py")
    assert p["command"] == "python x.py" and "UTC" in p["date"]


def test_time_to_target():
    evals = [{"seconds": 1, "step": 10, "acc": 0.5}, {"seconds": 2, "step": 20, "acc": 0.8},
             {"seconds": 3, "step": 30, "acc": 0.9}]
    assert time_to_target(evals, "acc", 0.8) == 2
    assert time_to_target(evals, "acc", 0.85, clock="step") == 30
    assert time_to_target(evals, "acc", 0.95) is None
    assert time_to_target([{"seconds": 5, "loss": 1.2}], "loss", 1.5, higher_is_better=False) == 5
