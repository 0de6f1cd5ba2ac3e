"""Recorded results (benchmarks/results/*.json), which pages plot and quote, carry their own
provenance: when, on which device and with which versions they were produced."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools.slide_figures import PROVENANCE_KEYS, find_provenance, ratios

ROOT = Path(__file__).resolve().parents[2]
RESULTS = sorted((ROOT / "benchmarks" / "results").glob("*.json"))


def test_find_provenance_and_ratios_on_a_nested_record():
    rec = {"runs": [{"name": "mixup", "speedup": 1.3, "stats": {"ratio_mean": 1.2}}],
           "meta": {"provenance": {"date": "d", "device": "cpu", "torch": "t", "accel_lib": "a", "x": 1}}}
    assert find_provenance(rec)["device"] == "cpu"
    assert ratios(rec) == [("runs[mixup].speedup", 1.3), ("runs[mixup].stats.ratio_mean", 1.2)]
    assert find_provenance({"date": "d"}) == {}


@pytest.mark.parametrize("path", RESULTS or [pytest.param(None, marks=pytest.mark.skip(
    reason="no recorded results yet"))], ids=[p.name for p in RESULTS] or None)
def test_recorded_result_has_provenance(path):
    data = json.loads(path.read_text())
    prov = find_provenance(data)
    assert prov, (f"{path.relative_to(ROOT)} has no provenance: record it with "
                  f"accel_lib.core.provenance(command) (fields {sorted(PROVENANCE_KEYS)})")
    assert prov.get("command"), (f"{path.relative_to(ROOT)}: the provenance does not say which command "
                                 "produced it (pass the command line to provenance())")
