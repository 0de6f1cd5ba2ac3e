"""Draw slide-ready figures (16:9 PNG, large type) from the library and the recorded results.

Everything is computed when the script runs, from ``accel_lib`` functions and from the JSON that
the benchmark scripts recorded in ``benchmarks/results/``; nothing is typed in. The output folder
(default ``_build_root/slides/``) is not committed: rerun the script after updating the repository.

Figures (``--list`` prints them, ``--only NAME`` draws one):
- ``taxonomy``: the book's map: the survey's parts and subsections, with the number of
  techniques each has in ``accel_lib.catalog``;
- ``model_costs``: parameters and training FLOPs per example of the reference models
  (counted by ``accel_lib.core.count_train_flops``);
- ``schedules``: every schedule function of the techniques in the catalog (a function of
  training progress in [0, 1]), drawn with its default arguments;
- ``benchmarks``: one figure per recorded result file, its ratios against the baseline as bars,
  with the device from the file's provenance.

Usage: ``python tools/slide_figures.py [--out DIR] [--only NAME] [--list]``.
"""
from __future__ import annotations

import argparse
import importlib
import inspect
import json
import math
import sys
from pathlib import Path
from typing import Callable, Optional

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "_build_root" / "slides"
SLIDE = dict(figsize=(13.33, 7.5), dpi=150)
STYLE = {"font.size": 18, "axes.titlesize": 24, "axes.labelsize": 20, "xtick.labelsize": 16,
         "ytick.labelsize": 16, "legend.fontsize": 16, "axes.spines.top": False,
         "axes.spines.right": False, "figure.constrained_layout.use": True}
FIGURES: dict = {}


def figure(name: str) -> Callable:
    def deco(fn):
        FIGURES[name] = fn
        return fn
    return deco


def save(fig, out: Path, name: str) -> Path:
    path = out / f"{name}.png"
    fig.savefig(path, dpi=SLIDE["dpi"])
    plt.close(fig)
    return path


@figure("taxonomy")
def taxonomy(out: Path) -> list[Path]:
    """Parts and subsections of the survey, with the techniques each has in the catalog."""
    from accel_lib.catalog import entries
    from accel_lib.core import PARTS, SUBSECTIONS
    counts: dict = {}
    for e in entries():
        counts[(e.part, e.subsection)] = counts.get((e.part, e.subsection), 0) + 1
    fig, ax = plt.subplots(figsize=SLIDE["figsize"])
    ax.set_axis_off()
    n = len(PARTS)
    for i, part in enumerate(PARTS):
        x = (i + 0.5) / n
        ax.text(x, 0.93, part, ha="center", va="center", fontsize=22, weight="bold",
                bbox=dict(boxstyle="round,pad=0.4", fc=f"C{i}", alpha=0.25, ec=f"C{i}"))
        for j, sub in enumerate(SUBSECTIONS[part]):
            k = counts.get((part, sub), 0)
            label = "\n".join(_wrap(sub, 16)) + f"\n({k} technique{'s' if k != 1 else ''})"
            ax.text(x, 0.84 - 0.135 * j, label, ha="center", va="top", fontsize=13,
                    bbox=dict(boxstyle="round,pad=0.3", fc="white", ec=f"C{i}"))
    total = sum(counts.values())
    ax.set_title(f"Efficient training, by what a technique changes ({total} techniques in accel_lib)")
    return [save(fig, out, "taxonomy")]


def _wrap(text: str, width: int) -> list[str]:
    lines, cur = [], ""
    for w in text.split():
        if cur and len(cur) + 1 + len(w) > width:
            lines.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}".strip()
    return lines + [cur]


@figure("model_costs")
def model_costs(out: Path) -> list[Path]:
    """Parameters and training FLOPs per example of the reference models."""
    import torch
    from accel_lib.core import GPT, FastCNN, GPTConfig, count_params, count_train_flops, resnet18_cifar
    torch.manual_seed(0)
    img = torch.randn(1, 3, 32, 32), torch.tensor([0])
    cfg = GPTConfig()
    tok = torch.zeros(1, cfg.block_size, dtype=torch.long)
    models = {"FastCNN\n(CIFAR-10)": (FastCNN(), img),
              "ResNet-18\n(CIFAR-10)": (resnet18_cifar(), img),
              f"GPT {cfg.n_layer}x{cfg.n_embd}\n({cfg.block_size} chars)": (GPT(cfg), (tok, tok))}
    names, params, flops = [], [], []
    for name, (m, (x, y)) in models.items():
        names.append(name)
        params.append(count_params(m) / 1e6)
        flops.append(count_train_flops(m, x, y) / 1e9)
    fig, (a, b) = plt.subplots(1, 2, figsize=SLIDE["figsize"])
    a.bar(names, params, color=["C0", "C1", "C2"])
    a.set_ylabel("parameters (millions)")
    a.set_title("Model size")
    b.bar(names, flops, color=["C0", "C1", "C2"])
    b.set_ylabel("GFLOPs per example (forward + backward)")
    b.set_title("Training cost per example")
    for ax, vals in ((a, params), (b, flops)):
        for i, v in enumerate(vals):
            ax.text(i, v, f"{v:.3g}", ha="center", va="bottom")
    fig.suptitle("The book's reference models (counted by accel_lib.core.count_train_flops)")
    return [save(fig, out, "model_costs")]


def schedule_functions() -> list[tuple[str, Callable]]:
    """(qualified name, function) for every function of a catalog module whose name says
    schedule and whose parameters past the first (progress) all have defaults."""
    from accel_lib.catalog import entries
    found = []
    for mod_name in dict.fromkeys(e.module for e in entries()):
        try:
            mod = importlib.import_module(mod_name)
        except ImportError:
            continue
        for name, fn in inspect.getmembers(mod, inspect.isfunction):
            if fn.__module__ != mod.__name__ or "schedule" not in name or name.startswith("_"):
                continue
            params = list(inspect.signature(fn).parameters.values())
            if params and all(p.default is not inspect.Parameter.empty for p in params[1:]):
                found.append((f"{mod_name.rsplit('.', 1)[-1]}.{name}", fn))
    return found


@figure("schedules")
def schedules(out: Path) -> list[Path]:
    """Every schedule function of the catalog's techniques, over progress in [0, 1]."""
    fns = schedule_functions()
    if not fns:
        return []
    grid = [i / 200 for i in range(201)]
    cols = min(3, len(fns))
    rows = math.ceil(len(fns) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=SLIDE["figsize"], squeeze=False)
    for ax, (name, fn) in zip(axes.flat, fns):
        try:
            ys = [float(fn(p)) for p in grid]
        except (TypeError, ValueError) as exc:  # a schedule that returns non-scalars is not drawable
            ax.text(0.5, 0.5, f"{name}\nnot drawable: {exc}", ha="center", va="center", fontsize=12)
            continue
        ax.plot(grid, ys, lw=3)
        ax.set_title(name, fontsize=16)
        ax.set_xlabel("progress p")
    for ax in list(axes.flat)[len(fns):]:
        ax.set_axis_off()
    fig.suptitle("Schedules: functions of training progress (defaults)")
    return [save(fig, out, "schedules")]


PROVENANCE_KEYS = {"date", "device", "torch", "accel_lib"}


def find_provenance(obj) -> dict:
    """The first dict in a recorded result that holds ``accel_lib.core.provenance()`` fields."""
    if isinstance(obj, dict):
        if PROVENANCE_KEYS <= obj.keys():
            return obj
        children = obj.values()
    elif isinstance(obj, list):
        children = obj
    else:
        return {}
    for v in children:
        found = find_provenance(v)
        if found:
            return found
    return {}


def ratios(obj, prefix: str = "") -> list[tuple[str, float]]:
    """Every numeric leaf whose key mentions ratio or speedup, with its path."""
    found = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            path = f"{prefix}.{k}" if prefix else str(k)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and (
                    "ratio" in str(k).lower() or "speedup" in str(k).lower()):
                found.append((path, float(v)))
            else:
                found += ratios(v, path)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            label = v.get("name") or v.get("technique") if isinstance(v, dict) else None
            found += ratios(v, f"{prefix}[{label or i}]")
    return found


@figure("benchmarks")
def benchmarks(out: Path) -> list[Path]:
    """Ratios against the baseline from each recorded benchmarks/results/*.json."""
    paths = []
    for f in sorted((ROOT / "benchmarks" / "results").glob("*.json")):
        try:
            data = json.loads(f.read_text())
        except json.JSONDecodeError:
            print(f"skipped {f.relative_to(ROOT)}: not valid JSON")
            continue
        found = ratios(data)
        if not found:
            continue
        prov = find_provenance(data)
        device = prov.get("gpu") or prov.get("device") or "device not recorded"
        fig, ax = plt.subplots(figsize=SLIDE["figsize"])
        labels = [p for p, _ in found][:20]
        vals = [v for _, v in found][:20]
        ax.barh(labels, vals, color=["C2" if v >= 1 else "C3" for v in vals])
        ax.axvline(1.0, color="k", lw=1.5, ls="--")
        ax.set_xlabel("ratio against the baseline (> 1: the technique helps)")
        ax.set_title(f"{f.stem} on {device}" + (f" ({prov['date']})" if prov.get("date") else ""))
        ax.invert_yaxis()
        paths.append(save(fig, out, f"benchmark_{f.stem}"))
    return paths


def main(argv: Optional[list] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--only", choices=sorted(FIGURES))
    ap.add_argument("--list", action="store_true")
    args = ap.parse_args(argv)
    if args.list:
        for name, fn in FIGURES.items():
            print(f"{name}: {inspect.getdoc(fn) or ''}".strip())
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    plt.rcParams.update(STYLE)
    written = []
    for name, fn in FIGURES.items():
        if args.only and name != args.only:
            continue
        paths = fn(args.out)
        written += paths
        print(f"{name}: " + (", ".join(str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(p)
                                       for p in paths) or "nothing to draw yet"))
    print(f"{len(written)} figures in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
