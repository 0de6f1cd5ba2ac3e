"""Recorded GPU figures of the system chapter, as the pages print them.

The CPU that runs the book in CI has no GPU, so GPU figures come from one run of
``benchmarks/gpu_session.py`` on a GPU machine, stored with provenance in
``benchmarks/results/system_gpu.json``. :func:`gpu_summary` turns one part of that file into the
lines a page prints (a ratio per line, the device and the date first), or says how to record it.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

__all__ = ["GPU_RESULTS", "load_gpu_results", "gpu_summary"]

GPU_RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "system_gpu.json"

_PARTS = ("precision", "compile", "graphs", "transfer", "memory")


def load_gpu_results(path: Optional[str | Path] = None) -> dict:
    """The recorded parts (``{}`` when nothing is recorded yet)."""
    p = Path(path) if path is not None else GPU_RESULTS
    return json.loads(p.read_text())["parts"] if p.exists() else {}


def _lines(part: str, r: dict) -> list:
    if part == "precision":
        ips, sp = r["images_per_second"], r["speedup_vs_fp32"]
        out = [f"{r['model']} training step, batch {r['batch']}:"]
        for k in ips:
            mem = f", peak {r['peak_bytes'][k] / 2**20:.0f} MiB" if "peak_bytes" in r else ""
            out.append(f"  {k}: {ips[k]:,.0f} images/s, {sp[k]:.2f}x fp32{mem}")
        return out
    if part == "compile":
        out = [f"torch.compile ({r['backend']}), training step:"]
        for name, c in r["models"].items():
            out.append(f"  {name}: {c['speedup']:.2f}x eager, compile {c['compile_seconds']:.0f} s, "
                       f"{c['graphs']} graph(s), {c['graph_breaks']} break(s)")
        return out
    if part == "graphs":
        st = r["step"]
        return [f"CUDA graphs, {r['model']} at batch {r['batch']}: step {st['eager']['median_s'] * 1e3:.2f} ms eager, "
                f"{st['graphed']['median_s'] * 1e3:.2f} ms graphed: {r['speedup']:.2f}x"]
    if part == "transfer":
        g = r["gb_per_s"]
        return [f"host-to-device copy of {r['megabytes']} MB: pageable {g['pageable']:.1f} GB/s, pinned "
                f"{g['pinned']:.1f} GB/s ({r['pinned_vs_pageable']:.2f}x), pinned non_blocking "
                f"{g['pinned_non_blocking']:.1f} GB/s",
                f"copy overlapped with a matmul on a side stream: {r['overlap_speedup']:.2f}x the serial time"]
    if part == "memory":
        out = [f"{r['model']} AdamW step, batch {r['batch']}: predicted {r['predicted_bytes']['total'] / 2**20:.0f} MiB"]
        if "measured_peak_bytes" in r:
            out[0] += (f", measured CUDA peak {r['measured_peak_bytes'] / 2**20:.0f} MiB "
                       f"(prediction {r['prediction_error']:+.1%})")
        ck = r.get("checkpointing")
        if ck:
            out.append(f"activation checkpointing on every block: peak {ck['peak_ratio']:.2f}x lower, "
                       f"step {ck['time_overhead']:.2f}x the time")
        return out
    raise ValueError(f"unknown part {part!r}; one of {', '.join(_PARTS)}.")


def gpu_summary(part: str, parts: Optional[dict] = None) -> str:
    """What a page prints for ``part``: the recorded figures with their device and date, the error
    the recording hit, or the command that records them."""
    if part not in _PARTS:
        raise ValueError(f"unknown part {part!r}; one of {', '.join(_PARTS)}.")
    parts = load_gpu_results() if parts is None else parts
    r = parts.get(part)
    cmd = f"python benchmarks/gpu_session.py --parts {part}"
    if r is None:
        return f"no recorded GPU result yet: on a CUDA machine run `{cmd}`"
    p = r["provenance"]
    head = f"recorded {p['date']} on {p.get('gpu', p['device'])} (torch {p['torch']}): {p['command']}"
    if "error" in r:
        return f"{head}\n  the recording failed: {r['error']}"
    if "skipped" in r and part != "memory":
        return f"{head}\n  skipped: {r['skipped']}"
    return "\n".join([head] + _lines(part, r))
