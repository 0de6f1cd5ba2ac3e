"""The capstone's claims table: headline claims from the survey next to what this book measured.

Each entry of :data:`CLAIMS` names a claim, a citation key, the paper's figure as quoted in the
survey map (``shared/SURVEY_MAP.md``, whose figures were checked against the original papers),
the benchmark results file that tests it, and a small reader. The reader takes the parsed JSON
and returns our figure as text and a verdict. Nothing measured is written here: every number in
the ``ours`` column is read from ``benchmarks/results`` when :func:`claims_table` runs, so
re-running a benchmark updates the table.

The verdict rule (:func:`verdict`) works on a *gain*, our improvement expressed as a factor
greater than 1 when the technique helps (fewer steps, less time, less memory, better accuracy):

* ``"not at this scale"``: no gain beyond the noise margin (``gain < 1 + margin``), or the
  target was never reached;
* ``"reproduced"``: a gain of at least half the paper's factor (``gain >= factor / 2``), or, for
  a claim the survey map states only qualitatively, any gain beyond the margin;
* ``"partly"``: a gain in the claimed direction that is smaller than that.

The speedrun row uses its own explicit rule, :func:`speedrun_verdict`, because its claim is an
accuracy reached within a number of epochs rather than a ratio.
"""
from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Callable, Optional

__all__ = ["CLAIMS", "VERDICTS", "NOT_RECORDED", "verdict", "speedrun_verdict", "claims_table",
           "claims_markdown"]

NOT_RECORDED = "not recorded"
VERDICTS = ("reproduced", "partly", "not at this scale")
TIME_MARGIN = 0.05       # timing and step counts: a gain below 5% is treated as noise
ACCURACY_MARGIN = 0.01   # accuracy ratios: a gain below 1% is treated as noise
SPEEDRUN_REFERENCE = 0.908  # airbench94's recipe on the book's JPEG copy of CIFAR-10, with TTA
SPEEDRUN_TOLERANCE = 0.005  # half a point for seed-to-seed variation


def verdict(gain: Optional[float], factor: Optional[float] = None, margin: float = TIME_MARGIN) -> str:
    """The verdict for our ``gain`` against the paper's ``factor`` (``None``: qualitative claim)."""
    if gain is None or gain < 1 + margin:
        return "not at this scale"
    if factor is None or gain >= factor / 2:
        return "reproduced"
    return "partly"


def speedrun_verdict(accuracy: float, epochs: float) -> str:
    """Reproduced: within ``SPEEDRUN_TOLERANCE`` of the reference accuracy on this copy in at most
    10 epochs; partly: at least 90% (the book's CPU target) but lower or later; otherwise not."""
    if accuracy >= SPEEDRUN_REFERENCE - SPEEDRUN_TOLERANCE and epochs <= 10:
        return "reproduced"
    return "partly" if accuracy >= 0.90 else "not at this scale"


def _get(d: dict, *path):
    """``d[path[0]][path[1]]...``; a missing key raises a KeyError naming the whole path."""
    for i, k in enumerate(path):
        if not isinstance(d, (dict, list)) or (isinstance(d, dict) and k not in d):
            raise KeyError("/".join(str(p) for p in path[: i + 1]))
        d = d[k]
    return d


# --- readers: parsed JSON -> (our figure as text, verdict) -------------------------------------

def read_onecycle(d: dict) -> tuple:
    """One-cycle vs step schedule: median over seeds of the step-count ratio to the step
    schedule's final accuracy (a seed where one-cycle never gets there counts as no gain)."""
    gains = []
    for s in _get(d, "seeds"):
        base, oc = _get(s, "step", "steps_to_target"), _get(s, "onecycle", "steps_to_target")
        if base:
            gains.append(base / oc if oc else 0.0)
    gain = statistics.median(gains) if gains else None
    wall = _get(d, "summary", "median_time_to_target_ratio")
    wall_txt = f"{1 / wall:.2f}x faster in wall-clock" if wall else "wall-clock: target not reached"
    ours = (f"{gain:.2f}x fewer steps to the step schedule's accuracy (median of {len(gains)} seeds; {wall_txt})"
            if gain is not None else "step schedule never reached its own accuracy")
    return ours, verdict(gain, 10.0)


def read_selective_backprop(d: dict) -> tuple:
    """Selective-Backprop vs the baseline: time to a target accuracy (``settings.target_frac`` of
    the baseline's best); a seed that never reaches it counts as no gain."""
    s = _get(d, "summary", "selective_backprop")
    ratios = _get(s, "time_to_target_ratio")
    gain = statistics.median([1 / r if r else 0.0 for r in ratios]) if ratios else None
    acc = statistics.mean(_get(s, "final_accuracy_ratio"))
    frac = _get(d, "settings", "target_frac")
    if gain:
        ours = f"{gain:.2f}x faster to {frac:.0%} of the baseline's best accuracy"
    else:
        ours = f"did not reach {frac:.0%} of the baseline's best accuracy"
    ours += (f"; final accuracy {acc:.2f}x, wall time {statistics.mean(_get(s, 'time_ratio')):.2f}x, "
             f"backward passes {statistics.mean(_get(s, 'backprop_ratio')):.2f}x the baseline's")
    return ours, verdict(gain, 3.5)


def read_lamb(d: dict, keep: float = 0.98) -> tuple:
    """LAMB at larger batches, same epochs: the largest batch multiple (= factor of fewer steps)
    at which LAMB keeps ``keep`` of the small-batch accuracy."""
    rows = _get(d, "rows")
    lamb = [r for r in rows if _get(r, "optimizer") == "LAMB"]
    held = [_get(r, "multiple") for r in lamb if _get(r, "accuracy_ratio") >= keep]
    gain = float(max(held)) if held else 1.0
    top = max(_get(r, "multiple") for r in rows)
    at_top = {_get(r, "optimizer"): _get(r, "accuracy_ratio") for r in rows if _get(r, "multiple") == top}
    others = ", ".join(f"{k} {v:.0%}" for k, v in at_top.items() if k != "LAMB")
    ours = (f"keeps the small-batch accuracy up to {gain:.0f}x the batch ({gain:.0f}x fewer steps); "
            f"at {top}x: {at_top.get('LAMB', float('nan')):.0%} of it ({others})")
    return ours, verdict(gain, 1e6 / 8599)


def read_averaging(d: dict) -> tuple:
    """EMA and SWA vs the last iterate at equal steps: the better of the two accuracy ratios."""
    s = _get(d, "summary")
    ema, swa = _get(s, "ema_over_last_accuracy"), _get(s, "swa_over_last_accuracy")
    ours = f"EMA {ema:.3f}x, SWA {swa:.3f}x the last iterate's accuracy"
    return ours, verdict(max(ema, swa), None, ACCURACY_MARGIN)


def read_checkpointing(d: dict) -> tuple:
    """Activation checkpointing: the largest cut in saved activation bytes, with its time cost."""
    rows = {k: v for k, v in _get(d, "rows").items() if k != "none"}
    name = min(rows, key=lambda k: (_get(rows[k], "bytes_ratio"), _get(rows[k], "time_ratio")))
    r = rows[name]
    gain = 1 / r["bytes_ratio"]
    return (f"{gain:.1f}x fewer saved activation bytes at {r['time_ratio']:.2f}x the step time ({name})",
            verdict(gain, 48 / 7))


def read_mixed_precision(d: dict) -> tuple:
    """bf16 autocast vs fp32: per-sample activation memory, median over the recorded models."""
    models = _get(d, "models")
    gains = [_get(m, "modes", "fp32", "per_sample") / _get(m, "modes", "bf16_autocast", "per_sample")
             for m in models.values()]
    gain = statistics.median(gains)
    return (f"{gain:.2f}x less activation memory per sample with bf16 autocast (median of {len(gains)} models)",
            verdict(gain, 2.0))


def read_attention(d: dict) -> tuple:
    """Tiled vs naive exact attention: saved bytes at the shortest and longest sequence."""
    rows = sorted(_get(d, "rows"), key=lambda r: _get(r, "seq_len"))
    lo, hi = rows[0], rows[-1]
    gain = _get(hi, "naive_bytes_vs_tiled")
    return (f"naive stores {gain:.0f}x the bytes of tiled at n={hi['seq_len']} "
            f"({_get(lo, 'naive_bytes_vs_tiled'):.1f}x at n={lo['seq_len']})", verdict(gain))


def read_speedrun(d: dict) -> tuple:
    """The full CIFAR-10 recipe (no ingredient removed): median TTA accuracy and training time of
    the setting (device, precision, epochs) with the most seeds, since seconds only compare within
    one device and precision; "not recorded" when no such run exists."""
    full = [r for r in _get(d, "runs").values() if r.get("kind") == "cifar" and not r.get("without")]
    if not full:
        return NOT_RECORDED, NOT_RECORDED
    groups: dict = {}
    for r in full:
        key = (r.get("provenance", {}).get("device", "unknown device"), bool(r.get("bf16")), _get(r, "epochs"))
        groups.setdefault(key, []).append(r)
    device, bf16, epochs = max(groups, key=lambda k: (len(groups[k]), k[2]))
    rs = groups[(device, bf16, epochs)]
    acc = statistics.median(_get(r, "accuracy_tta") for r in rs)
    secs = statistics.median(_get(r, "train_seconds") for r in rs)
    seeds = f"median of {len(rs)} seeds" if len(rs) > 1 else "one seed"
    return (f"{acc:.2%} with TTA in {secs:.0f} s, {epochs:g} epochs ({seeds}, {device}{', bf16' if bf16 else ''})",
            speedrun_verdict(acc, epochs))


CLAIMS: list = [
    dict(claim="One-cycle schedule trains much faster (super-convergence)", source="optim_smith2019superconvergence",
         paper="an order of magnitude faster than standard schedules", file="optim_onecycle.json",
         read=read_onecycle),
    dict(claim="Selective-Backprop: backpropagate only high-loss examples", source="jiang2019selectivebackprop",
         paper="target error up to 3.5x faster than SGD", file="data_sampling_time_to_target.json",
         read=read_selective_backprop),
    dict(claim="LAMB trains with much larger batches without losing accuracy", source="optim_you2020lamb",
         paper="BERT in 8,599 iterations instead of 1M; 3 days to 76 minutes", file="optim_large_batch.json",
         read=read_lamb),
    dict(claim="Weight averaging (EMA, SWA) improves accuracy almost for free", source="optim_izmailov2018swa",
         paper="better accuracy at almost no overhead (no figure in the survey map)", file="optim_averaging.json",
         read=read_averaging),
    dict(claim="Activation checkpointing trades recomputation for memory", source="sys_chen2016sublinear",
         paper="1000-layer ResNet: 48 GB to 7 GB with about 30% extra time", file="system_checkpointing.json",
         read=read_checkpointing),
    dict(claim="Mixed precision cuts memory", source="sys_micikevicius2018mixed",
         paper="nearly halves memory", file="system_memory.json", read=read_mixed_precision),
    dict(claim="Tiled exact attention avoids storing the attention matrix", source="model_dao2022flashattention",
         paper="tiling reduces memory traffic (no memory figure in the survey map)", file="model_attention.json",
         read=read_attention),
    dict(claim="The airbench94 recipe: 94% on CIFAR-10 in about 10 epochs", source="jordan2024airbench",
         paper="94.0% in 9.9 epochs on canonical CIFAR-10 (3.29 s on one GPU); 90.8% with TTA on "
               "the book's JPEG copy (offline data notes)", file="speedrun.json",
         read=read_speedrun),
]


def claims_table(results_dir) -> list:
    """One row per claim (keys claim, source, paper, ours, verdict), read from ``results_dir`` now.

    A missing results file gives ``"not recorded"``; a file that lacks a field the reader needs
    raises a KeyError naming the file and the missing key path."""
    rows = []
    for c in CLAIMS:
        path = Path(results_dir) / c["file"]
        if not path.exists():
            ours, v = NOT_RECORDED, NOT_RECORDED
        else:
            try:
                ours, v = c["read"](json.loads(path.read_text()))
            except KeyError as e:
                raise KeyError(f"{c['file']}: missing key {e.args[0]!r} (needed by {c['read'].__name__})") from e
        rows.append({"claim": c["claim"], "source": c["source"], "paper": c["paper"], "ours": ours, "verdict": v})
    return rows


def claims_markdown(rows: list, cite: bool = True) -> str:
    """A Markdown table of ``rows``: one header line, one separator line, one line per row. The
    source column is a MyST ``{cite}`` role (``cite=False``: the bare key in backticks)."""
    def cell(s: str) -> str:
        return str(s).replace("|", "\\|").replace("\n", " ")
    role = "{cite}" if cite else ""
    lines = ["| claim | source | paper | ours | verdict |", "|---|---|---|---|---|"]
    lines += [f"| {cell(r['claim'])} | {role}`{r['source']}` | {cell(r['paper'])} | {cell(r['ours'])} | "
              f"{cell(r['verdict'])} |" for r in rows]
    return "\n".join(lines)
