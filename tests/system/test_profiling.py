"""The profiler finds the labelled phases and exports a readable trace."""
import json

import torch
from torch import nn

from accel_lib.system.profiling import PHASES, labelled_step, phase_times, profile_steps, top_ops, trace_summary


def test_phases_found_and_trace_valid(tmp_path):
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    step = labelled_step(m, lambda: (torch.randn(8, 16), torch.randint(0, 4, (8,))), opt)
    path = tmp_path / "trace.json"
    prof = profile_steps(step, steps=2, warmup=1, trace_path=path)
    pt = phase_times(prof)
    assert set(pt) == set(PHASES) and all(v["seconds"] > 0 for v in pt.values())
    assert abs(sum(v["share"] for v in pt.values()) - 1) < 1e-9
    names = [n for n, _, _ in top_ops(prof, 20)]
    assert any("addmm" in n or "mm" in n for n in names)
    json.loads(path.read_text())
    s = trace_summary(path)
    assert s["events"] > 10 and all(s["phases"][p] > 0 for p in PHASES)
