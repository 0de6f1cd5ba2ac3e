"""The launcher: per-rank results, a failing rank's traceback, a timeout that stops every rank,
the torchrun entry point, and the error messages."""
import os
import subprocess
import sys
import time

import pytest

from accel_lib.system.distributed import launch
from accel_lib.system.distributed.launch import WorkerError, WorkerTimeout, fail_on, hello, run_workers


def test_results_per_rank():
    res = run_workers(hello, 3, kwargs={"scale": 2.0}, timeout=30)
    assert [r["rank"] for r in res] == [0, 1, 2]
    assert all(r["sum"] == 2.0 * 6 and r["world_size"] == 3 and r["backend"] == "gloo" for r in res)


def test_failing_rank_reports_its_traceback():
    with pytest.raises(WorkerError) as ei:
        run_workers(fail_on, 2, kwargs={"bad_rank": 1}, timeout=30)
    assert ei.value.rank == 1
    assert "ValueError: rank 1 failed on purpose" in str(ei.value)
    assert "fail_on" in ei.value.remote_traceback  # the remote frame is there


def test_hang_is_stopped_by_the_timeout():
    t0 = time.monotonic()
    with pytest.raises(WorkerTimeout, match="did not finish"):
        run_workers(fail_on, 2, kwargs={"bad_rank": 0, "hang": True}, timeout=2)
    assert time.monotonic() - t0 < 10  # stopped, not hung (generous bound against a loaded machine)


def test_bad_arguments():
    with pytest.raises(ValueError, match="nprocs"):
        run_workers(hello, 0)
    with pytest.raises(ValueError, match="backend"):
        run_workers(hello, 2, backend="mpi")
    with pytest.raises(ValueError, match="module"):
        def local():  # defined in __main__? no: in this test module; fake it
            return 1
        local.__module__ = "__main__"
        run_workers(local, 2, start_method="spawn")


@pytest.mark.slow
def test_torchrun_entry_point(tmp_path):
    # torchrun starts fresh interpreters (each imports torch: seconds), the path GPUs and nodes use
    out = tmp_path / "res.json"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port",
           str(launch.free_port()), "-m", "accel_lib.system.distributed.launch",
           "accel_lib.system.distributed.launch:hello", "scale=3", "--out", str(out)]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
    assert p.returncode == 0, p.stderr[-2000:]
    import json
    rec = json.loads(out.read_text())
    assert rec["world_size"] == 2 and [r["sum"] for r in rec["results"]] == [9.0, 9.0]
