"""The device-session script runs end to end at tiny sizes on a CPU (so a GPU session never spends
its minutes on a broken script) and refuses to pass CPU numbers off as GPU figures."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]


def _script():
    spec = importlib.util.spec_from_file_location("bench_gpu_session", ROOT / "benchmarks" / "gpu_session.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_gpu_session"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_smoke_run_records_every_part_with_provenance(tmp_path):
    out = tmp_path / "gpu.json"
    res = _script().main(["--smoke", "--out", str(out)])
    assert set(res["parts"]) == {"precision", "compile", "graphs", "transfer", "memory"}
    prec = res["parts"]["precision"]
    assert set(prec["speedup_vs_fp32"]) == {"fp32", "bf16", "fp16"} and prec["speedup_vs_fp32"]["fp32"] == 1.0
    comp = res["parts"]["compile"]["models"]
    assert set(comp) == {"FastCNN", "ResNet-18", "GPT"}
    assert all(c["graph_breaks"] == 0 and c["speedup"] > 0 for c in comp.values())
    mem = res["parts"]["memory"]["predicted_bytes"]
    assert mem["total"] == sum(v for k, v in mem.items() if k != "total") and mem["activations"] > 0
    assert all(p["provenance"]["command"] for p in res["parts"].values())
    if not torch.cuda.is_available():
        assert "skipped" in res["parts"]["graphs"] and "skipped" in res["parts"]["transfer"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="on a GPU the full run is allowed")
def test_full_run_without_a_gpu_is_refused():
    with pytest.raises(SystemExit, match="no CUDA GPU"):
        _script().main(["--parts", "precision"])


def test_smoke_results_never_overwrite_the_recorded_gpu_file():
    mod = _script()
    with pytest.raises(SystemExit, match="not GPU figures"):
        mod.main(["--smoke", "--out", str(mod.OUT)])


def test_pages_summarise_every_recorded_part(tmp_path):
    from accel_lib.system import gpu_summary, load_gpu_results
    out = tmp_path / "gpu.json"
    _script().main(["--smoke", "--out", str(out), "--parts", "precision", "compile", "memory"])
    parts = load_gpu_results(out)
    text = gpu_summary("precision", parts)
    assert "fp32" in text and "bf16" in text and "x fp32" in text and "recorded" in text
    assert "GPT: " in gpu_summary("compile", parts) and "0 break(s)" in gpu_summary("compile", parts)
    assert "predicted" in gpu_summary("memory", parts)
    assert "gpu_session.py --parts graphs" in gpu_summary("graphs", parts)   # not recorded: how to
    assert "failed: RuntimeError: x" in gpu_summary("graphs", {"graphs": {"error": "RuntimeError: x",
                                                                          "provenance": parts["memory"]["provenance"]}})
    with pytest.raises(ValueError, match="unknown part"):
        gpu_summary("nccl", parts)
    assert load_gpu_results(tmp_path / "absent.json") == {}


def test_the_device_session_refuses_an_unknown_part_before_touching_the_device(tmp_path):
    import subprocess
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "device_session.sh"
    r = subprocess.run(["bash", str(script), "baseline", "sytem"], capture_output=True, text=True,
                       env={"PATH": "/usr/bin:/bin", "OUT": str(tmp_path)}, timeout=60)
    assert r.returncode == 2 and "unknown part 'sytem'" in r.stderr
    assert r.stdout == ""  # nothing ran: no nvidia-smi, no python
