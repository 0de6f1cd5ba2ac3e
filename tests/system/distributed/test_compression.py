"""Top-k with error feedback, PowerSGD and local SGD: exactness where the maths says so, error
feedback conserves the gradient, local SGD equals DDP / PeriodicModelAverager, DDP's PowerSGD hook."""
import pytest
import torch

from accel_lib.system.distributed.compression import (LocalSGD, PowerSGDCompressor, TopKCompressor,
                                                      check_compression, orthogonalize, topk_sparsify,
                                                      train_compressed)
from accel_lib.system.distributed.launch import run_workers


@pytest.fixture(scope="module")
def res():
    return run_workers(check_compression, 2, timeout=60)


def test_powersgd_exact_on_low_rank(res):
    for r in res:
        assert r["powersgd_lowrank_diff"] < 1e-5
        # two thin factors, (8 + 12) x rank 2, instead of 8 x 12 (ring bytes for N = 2)
        assert r["powersgd_bytes"] == pytest.approx(2 * 0.5 * (8 + 12) * 2 * 4)


def test_topk_exact_at_full_ratio_and_error_feedback_conserves(res):
    for r in res:
        assert r["topk_full_diff"] < 1e-6
        assert r["topk_conservation"] < 1e-5 and r["topk_nonzeros_ok"]
        assert r["topk_bytes_per_step"] < 0.25 * r["dense_bytes_per_step"]


def test_local_sgd_matches_periodic_model_averager(res):
    for r in res:
        assert r["local_sgd_1_vs_ddp"] < 1e-6
        assert r["local_sgd_3_vs_averager"] < 1e-6


def test_builtin_powersgd_hook_compresses(res):
    assert res[0]["builtin_compression_rate"] > 2


def test_functional_pieces():
    t = torch.tensor([0.1, -3.0, 2.0, 0.5])
    v, i = topk_sparsify(t, 2)
    assert sorted(i.tolist()) == [1, 2] and sorted(v.tolist()) == [-3.0, 2.0]
    q = orthogonalize(torch.randn(10, 3))
    assert torch.allclose(q.t() @ q, torch.eye(3), atol=1e-5)
    with pytest.raises(ValueError, match="k must"):
        topk_sparsify(t, 5)
    with pytest.raises(ValueError, match="ratio"):
        TopKCompressor(ratio=0)
    with pytest.raises(ValueError, match="rank"):
        PowerSGDCompressor(rank=0)
    with pytest.raises(ValueError, match="period"):
        LocalSGD(torch.nn.Linear(2, 2), 0)


def test_training_worker_on_cifar(cifar10):
    out = run_workers(train_compressed, 2, kwargs={"method": "powersgd", "steps": 3, "n_train": 512,
                                                   "n_test": 128}, timeout=60)
    assert out[0]["bytes_per_step"] < 0.05 * out[0]["dense_bytes_per_step"]
