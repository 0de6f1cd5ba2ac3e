"""The capstone claims table: verdicts follow the stated rule, figures come from the results files."""
import json
import re
from pathlib import Path

import pytest

from accel_lib.recipes.claims import (CLAIMS, NOT_RECORDED, VERDICTS, claims_markdown, claims_table,
                                      speedrun_verdict, verdict)

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"


def _row(rows, file):
    (i,) = [i for i, c in enumerate(CLAIMS) if c["file"] == file]
    return rows[i]


def _onecycle(tmp_path, step_steps, oc_steps):
    """A minimal optim_onecycle.json with one seed."""
    d = {"seeds": [{"step": {"steps_to_target": step_steps}, "onecycle": {"steps_to_target": oc_steps}}],
         "summary": {"median_time_to_target_ratio": None}}
    (tmp_path / "optim_onecycle.json").write_text(json.dumps(d))
    return _row(claims_table(tmp_path), "optim_onecycle.json")


def test_every_claim_has_a_row_and_an_allowed_verdict():
    rows = claims_table(RESULTS)
    assert len(rows) == len(CLAIMS)
    for r in rows:
        assert set(r) == {"claim", "source", "paper", "ours", "verdict"}
        assert r["verdict"] in VERDICTS + (NOT_RECORDED,)


def test_verdict_rule():
    assert verdict(None, 10) == "not at this scale"
    assert verdict(1.02, 10) == "not at this scale"  # within the noise margin
    assert verdict(2.0, 10) == "partly"
    assert verdict(5.0, 10) == "reproduced"
    assert verdict(1.5, None) == "reproduced"  # qualitative claim: direction only
    assert verdict(1.5, 2.0) == "reproduced"
    assert speedrun_verdict(0.89, 9.9) == "not at this scale"
    assert speedrun_verdict(0.905, 9.9) == "reproduced"
    assert speedrun_verdict(0.901, 9.9) == "partly"
    assert speedrun_verdict(0.91, 20) == "partly"


@pytest.mark.parametrize("step_steps, oc_steps, expected", [
    (120, 20, "reproduced"),         # 6x fewer steps >= half of the paper's 10x
    (120, 60, "partly"),             # 2x: same direction, smaller
    (120, 118, "not at this scale"),  # within the margin
    (120, None, "not at this scale"),  # one-cycle never reached the target
])
def test_onecycle_verdicts_on_synthetic_json(tmp_path, step_steps, oc_steps, expected):
    assert _onecycle(tmp_path, step_steps, oc_steps)["verdict"] == expected


def test_speedrun_verdicts_on_synthetic_json(tmp_path):
    def run(acc, secs, without=()):
        return {"kind": "cifar", "epochs": 9.9, "without": list(without), "accuracy_tta": acc, "train_seconds": secs}
    cases = {"reproduced": run(0.906, 3000), "partly": run(0.901, 3000), "not at this scale": run(0.88, 3000)}
    for expected, r in cases.items():
        d = {"runs": {"a": r, "b": run(0.99, 1, without=["tta"])}}  # ablation arms are ignored
        (tmp_path / "speedrun.json").write_text(json.dumps(d))
        row = _row(claims_table(tmp_path), "speedrun.json")
        assert row["verdict"] == expected and "9.9 epochs" in row["ours"]
    # seconds are only summarised within one device and precision: the setting with most seeds wins
    cpu = {"device": "cpu"}
    d = {"runs": {"f0": dict(run(0.905, 3000), provenance=cpu),
                  "b0": dict(run(0.906, 1100), bf16=True, provenance=cpu),
                  "b1": dict(run(0.904, 1200), bf16=True, provenance=cpu)}}
    (tmp_path / "speedrun.json").write_text(json.dumps(d))
    ours = _row(claims_table(tmp_path), "speedrun.json")["ours"]
    assert "in 1150 s" in ours and "median of 2 seeds, cpu, bf16" in ours
    (tmp_path / "speedrun.json").write_text(json.dumps({"runs": {}, "studies": {}}))
    assert _row(claims_table(tmp_path), "speedrun.json")["ours"] == NOT_RECORDED


def test_missing_file_is_not_recorded(tmp_path):
    rows = claims_table(tmp_path)
    assert all(r["ours"] == NOT_RECORDED and r["verdict"] == NOT_RECORDED for r in rows)


def test_malformed_file_names_file_and_key(tmp_path):
    (tmp_path / "optim_averaging.json").write_text(json.dumps({"summary": {"ema_over_last_accuracy": 1.0}}))
    with pytest.raises(KeyError, match="optim_averaging.json.*swa_over_last_accuracy"):
        claims_table(tmp_path)


def test_sources_exist_in_the_bibliography():
    bibs = [ROOT / "references.bib", *sorted((ROOT / "book" / "bib").glob("*.bib"))]
    keys = set()
    for b in bibs:
        keys.update(re.findall(r"@\w+\s*\{\s*([^,\s]+)\s*,", b.read_text()))
    missing = [c["source"] for c in CLAIMS if c["source"] not in keys]
    assert not missing, f"citation keys not in any .bib file: {missing}"


def test_markdown_has_a_line_per_row():
    rows = claims_table(RESULTS)
    lines = claims_markdown(rows).splitlines()
    assert len(lines) == len(rows) + 2  # header and separator
    assert all(line.startswith("|") and line.endswith("|") for line in lines)
    assert all(line.count(" | ") == 4 for line in lines[2:])  # no stray pipes inside cells


def test_recorded_results_are_read():
    """Every claim whose results file exists yields a figure (catches a renamed JSON field)."""
    rows = claims_table(RESULTS)
    for c, r in zip(CLAIMS, rows):
        path = RESULTS / c["file"]
        if not path.exists():
            continue
        if c["file"] == "speedrun.json":
            runs = json.loads(path.read_text()).get("runs", {}).values()
            if not any(x.get("kind") == "cifar" and not x.get("without") for x in runs):
                continue  # only studies recorded so far: no full-recipe run to report
        assert r["ours"] != NOT_RECORDED, c["file"]
        assert r["verdict"] in VERDICTS, c["file"]
