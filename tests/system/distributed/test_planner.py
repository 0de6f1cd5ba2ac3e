"""The planner's memory predictions match the per-rank bytes measured on gloo ranks; its step-time
model behaves as the theory says."""
import pytest
import torch
from torch import nn

from accel_lib.system.distributed.launch import run_workers
from accel_lib.system.distributed.pipeline_parallel import split_stages
from accel_lib.system.distributed.planner import (STRATEGIES, Hardware, Workload, memory_per_device, plan,
                                                  plot_plan, step_time)
from accel_lib.system.distributed.zero import check_zero


@pytest.fixture(scope="module")
def measured():
    return run_workers(check_zero, 2, kwargs={"width": 127, "steps": 1, "torch_versions": False}, timeout=60)


def test_memory_matches_measured_bytes(measured):
    for r in measured:
        w = Workload(n_params=r["n_params"], weight_bytes=4, grad_bytes=4, optim_bytes=8)
        for strategy, key in (("dp", "ddp"), ("zero1", "zero1"), ("zero2", "zero2"), ("zero3", "zero3")):
            pred = memory_per_device(strategy, w, r["world_size"])
            got = r[key]["bytes"]
            for part in ("params", "grads", "optim"):
                assert got[part] == pytest.approx(pred[part], rel=0.05), (strategy, part)


def test_pipeline_stage_memory_matches_split():
    model = nn.Sequential(*[nn.Linear(32, 32) for _ in range(8)])
    w = Workload(n_params=sum(p.numel() for p in model.parameters()))
    pred = memory_per_device("pp", w, 4)["params"]
    for stage in split_stages(model, 4):
        assert sum(p.numel() * 4 for p in stage.parameters()) == pytest.approx(pred)


def test_step_time_model():
    w = Workload(n_params=1e9, flops_per_step=6e9 * 1e6, boundary_bytes=1e8, micro_batches=8)
    hw = Hardware(n_devices=8, bandwidth=50e9, flops=200e12)
    t = {s: step_time(s, w, hw, overlap=False) for s in STRATEGIES}
    assert t["zero3"]["comm"] == pytest.approx(1.5 * t["dp"]["comm"], rel=1e-3)  # 1.5x the volume
    assert t["zero1"]["comm"] == t["dp"]["comm"]
    assert t["pp"]["bubble"] / (t["pp"]["compute"] + t["pp"]["bubble"]) == pytest.approx(7 / 15)  # (p-1)/(m+p-1)
    faster = step_time("dp", w, Hardware(n_devices=8, bandwidth=500e9, flops=200e12), overlap=False)
    assert faster["comm"] < t["dp"]["comm"]
    rows = plan(w, hw)
    assert [r["strategy"] for r in rows] == list(STRATEGIES)
    assert rows[3]["mem_total"] < rows[0]["mem_total"]
    with pytest.raises(ValueError, match="strategy"):
        memory_per_device("fsdp", w, 2)


def test_plot_and_widget():
    import matplotlib
    matplotlib.use("Agg")
    ax = plot_plan(plan(Workload(), Hardware()), Hardware())
    assert len(ax) == 2
    pytest.importorskip("ipywidgets")
    from accel_lib.system.distributed.planner import planner_widget
    assert planner_widget() is not None
