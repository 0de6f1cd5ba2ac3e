"""Megatron tensor parallelism from scratch equals the unsharded block; parallelize_module agrees;
2-D FSDP + TP on 4 ranks equals single-process training."""
import pytest
import torch

from accel_lib.system.distributed.launch import run_workers
from accel_lib.system.distributed.tensor_parallel import (ColumnParallelLinear, check_fsdp_tp_2d,
                                                          check_tensor_parallel)


@pytest.fixture(scope="module")
def res():
    return run_workers(check_tensor_parallel, 2, timeout=60)


def test_block_outputs_and_gradients_equal_unsharded(res):
    for r in res:
        assert r["out"] < 1e-5 and r["dx"] < 1e-5
        assert max(r["grads"].values()) < 1e-5, r["grads"]


def test_communication_is_two_all_reduces_each_way(res):
    for r in res:
        assert r["fwd_all_reduces"] == 2 and r["all_reduces"] == 4  # attention + MLP, forward and backward
        assert r["fwd_bytes"] == 2 * r["act_bytes"]
        assert r["param_fraction"] == pytest.approx(0.5, abs=0.01)  # weights halve (replicated biases aside)


def test_torch_parallelize_module_matches(res):
    for r in res:
        assert r["torch_out"] < 1e-5 and r["torch_grads"] < 1e-5


def test_fsdp_tp_2d_on_four_ranks():
    out = run_workers(check_fsdp_tp_2d, 4, timeout=60)
    for r in out:
        assert r["diff"] < 1e-5 and r["mesh"] == (2, 2)
        assert r["local_fraction"] == pytest.approx(0.25, abs=0.01)


def test_needs_a_group():
    with pytest.raises(RuntimeError, match="process group"):
        ColumnParallelLinear.from_linear(torch.nn.Linear(4, 4))


def test_timing_worker_runs():
    from accel_lib.system.distributed.tensor_parallel import time_tensor_parallel
    out = run_workers(time_tensor_parallel, 2, kwargs=dict(n_embd=32, n_head=4, batch=2, seq=8, repeats=2), timeout=60)[0]
    assert out["weight_bytes"]["tensor_parallel"] < 0.6 * out["weight_bytes"]["unsharded"]
    assert out["all_reduce_bytes_per_step"] == 4 * 2 * 8 * 32 * 4  # 4 all-reduces of (B, T, C) fp32
