"""GPipe and 1F1B from scratch give the unpipelined gradients, as torch.distributed.pipelining does;
the schedules' bubble equals (p-1)/(m+p-1); 1F1B stores at most p micro-batches."""
import pytest
import torch

from accel_lib.system.distributed.launch import run_workers
from accel_lib.system.distributed.pipeline_parallel import (bubble_formula, check_pipeline, gpipe_schedule,
                                                            measure_bubble, one_f_one_b_schedule, simulate,
                                                            split_stages)


@pytest.fixture(scope="module", params=[2, 4])
def res(request):
    return request.param, run_workers(check_pipeline, request.param, kwargs={"m": 4}, timeout=60)


def test_same_gradients_as_unpipelined(res):
    p, out = res
    for r in out:
        assert r["gpipe"]["grad_diff"] < 1e-6 and r["1f1b"]["grad_diff"] < 1e-6
    assert out[-1]["gpipe"]["loss"] == pytest.approx(out[-1]["ref_loss"], abs=1e-5)


def test_torch_pipelining_matches(res):
    p, out = res
    for r in out:
        assert r["torch_gpipe"]["grad_diff"] < 1e-6 and r["torch_1f1b"]["grad_diff"] < 1e-6


def test_1f1b_keeps_fewer_activations(res):
    p, out = res
    for s, r in enumerate(out):
        assert r["gpipe"]["max_in_flight"] == 4                 # all m micro-batches
        assert r["1f1b"]["max_in_flight"] == min(p - s, 4)      # at most p - stage


@pytest.mark.parametrize("m,p", [(1, 2), (4, 2), (8, 4), (16, 4), (3, 8)])
def test_simulated_bubble_equals_formula(m, p):
    for sched in (gpipe_schedule, one_f_one_b_schedule):
        sim = simulate(sched, m, p, t_f=1.0, t_b=2.0)
        assert sim["bubble"] == pytest.approx(bubble_formula(m, p))
        assert sim["makespan"] == pytest.approx((m + p - 1) * 3.0)


def test_schedules_contain_each_action_once():
    for sched in (gpipe_schedule, one_f_one_b_schedule):
        acts = sched(6, 3, 1)
        assert sorted(acts) == sorted([("F", i) for i in range(6)] + [("B", i) for i in range(6)])
    with pytest.raises(ValueError, match="stage"):
        gpipe_schedule(4, 2, 2)
    with pytest.raises(ValueError, match="stages"):
        split_stages(torch.nn.Sequential(torch.nn.Linear(2, 2)), 2)


def test_measured_bubble_worker_runs():
    out = run_workers(measure_bubble, 2, kwargs={"m": 2, "t_f": 0.005, "t_b": 0.01}, timeout=60)
    r = out[0]
    assert 0 < r["bubble"] < 1 and r["formula"] == pytest.approx(1 / 3)
    assert len(r["events"]) == 2 and len(r["events"][0]) == 4
