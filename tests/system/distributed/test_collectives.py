"""Ring collectives from point-to-point sends vs torch.distributed; bytes on the wire; cost model."""
import pytest
import torch

from accel_lib.system.distributed.collectives import (alpha_beta_time, check_collectives, fit_alpha_beta,
                                                      ring_all_reduce, ring_bytes_per_rank)
from accel_lib.system.distributed.launch import run_workers


@pytest.fixture(scope="module", params=[2, 3, 4])
def results(request):
    n = request.param
    return n, run_workers(check_collectives, n, kwargs={"numel": 1001}, timeout=60)


def test_ring_matches_torch(results):
    n, res = results
    for r in res:
        assert r["ring_diff"] < 1e-12 and r["naive_diff"] < 1e-12
        assert r["rs_diff"] < 1e-12 and r["rs_ag_diff"] < 1e-12


def test_ring_bytes_on_the_wire(results):
    n, res = results
    nbytes = res[0]["nbytes"]
    for r in res:
        # 1001 elements do not split evenly: each rank sends 2(N-1) chunks of about 1001/N elements
        assert abs(r["ring_sent"] - ring_bytes_per_rank("all_reduce", nbytes, n)) <= 2 * (n - 1) * 8
        assert r["ring_messages"] == 2 * (n - 1)
    assert res[0]["naive_sent"] == (n - 1) * nbytes  # rank 0 sends the result to everyone
    assert res[1]["naive_sent"] == nbytes


def test_cost_model_and_fit():
    alpha, beta = 5e-6, 1e-9
    sizes = [1e3, 1e5, 1e6, 1e7]
    fa, fb = fit_alpha_beta(sizes, [alpha + beta * s for s in sizes])
    assert abs(fa - alpha) < 1e-9 and abs(fb - beta) / beta < 1e-6
    t2 = alpha_beta_time("all_reduce", 1e6, 2, alpha, beta)
    assert t2 == pytest.approx(2 * alpha + 1e6 * beta)
    # the bandwidth term tends to 2x the bytes as N grows: the ring is bandwidth-optimal
    assert ring_bytes_per_rank("all_reduce", 1.0, 1024) == pytest.approx(2 * 1023 / 1024)
    with pytest.raises(ValueError, match="kind"):
        alpha_beta_time("all_to_all", 1, 2, 0, 0)


def test_errors_outside_a_group():
    with pytest.raises(RuntimeError, match="run_workers"):
        ring_all_reduce(torch.ones(3))
