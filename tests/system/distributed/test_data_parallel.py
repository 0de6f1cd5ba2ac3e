"""Data parallelism on 2 gloo ranks: naive, bucketed-overlapped and DDP equal one process on the
concatenated batch; no_sync accumulation; training equal to DDP; bytes."""
import pytest
import torch

from accel_lib.system.distributed.data_parallel import (BucketedDDP, check_data_parallel, time_data_parallel,
                                                        toy_mlp)
from accel_lib.system.distributed.launch import run_workers


@pytest.fixture(scope="module")
def res():
    return run_workers(check_data_parallel, 2, timeout=60)


def test_gradients_match_single_process_and_ddp(res):
    for r in res:
        assert r["naive"] < 1e-6 and r["bucketed"] < 1e-6 and r["ddp"] < 1e-6


def test_no_sync_accumulation_equals_big_batch(res):
    for r in res:
        assert r["bucketed_no_sync"] < 1e-6 and r["ddp_no_sync"] < 1e-6


def test_training_equals_ddp(res):
    assert all(r["train_vs_ddp"] < 1e-6 for r in res)


def test_bytes_and_buckets(res):
    nbytes = sum(p.numel() * 4 for p in toy_mlp().parameters())
    for r in res:
        assert r["naive_bytes"] == nbytes and r["bucketed_bytes"] == nbytes
        assert r["buckets"] > 1  # a tiny cap gives several buckets, each reduced asynchronously


def test_timing_worker_runs():
    out = run_workers(time_data_parallel, 2, kwargs={"width": 32, "depth": 3, "batch": 8, "repeats": 2}, timeout=60)
    assert set(out[0]["median_s"]) == {"naive", "bucketed", "ddp"}


def test_needs_a_process_group():
    with pytest.raises(RuntimeError, match="process group"):
        BucketedDDP(toy_mlp())
