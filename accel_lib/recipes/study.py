"""Studies of the speedrun recipes: the ladder, the ablation, the interaction matrix, the char-LM
speedrun and the claims table. Every function returns plain records (dicts) that the
``benchmarks/speedrun.py`` entry point stores as JSON and the capstone pages plot.

Short studies use a small configuration (:data:`SMALL`: narrower net, an 8,192-image prefix of the
training set, 2 epochs, 2,000 test images) so that one run costs about half a minute on a 2-core
CPU; their effects are accuracy changes at a fixed budget, with the seed-to-seed spread measured
alongside so that each difference can be compared with the noise.
"""
from __future__ import annotations

import itertools
import math
import statistics
from typing import Callable, Optional, Sequence

import torch

from accel_lib.core.baselines import char_gpt, run_recipe
from accel_lib.core.datasets import CharData, ImageData
from accel_lib.core.measure import compare, time_to_target
from accel_lib.core.models import resnet18_cifar
from accel_lib.recipes.char_speedrun import char_speedrun
from accel_lib.recipes.speedrun import INGREDIENTS, SpeedrunNet, cifar_speedrun, evaluate_tta
from accel_lib.system.mixed_precision import native_bf16

__all__ = ["SMALL", "LADDER", "MATRIX_TECHNIQUES", "small_run", "ladder", "ablation", "pair_runs",
           "interaction_matrix", "char_race", "baseline_throughput", "baseline_ratio", "pick_baseline",
           "summarize_runs", "budget_sweep", "iso_accuracy"]

SMALL = dict(widths=(32, 64, 128), n_train=8192, epochs=2.0, batch_size=512, n_eval=2000)

# The ladder adds ingredients in this order, starting from everything off.
LADDER = ("augment", "onecycle", "nesterov", "bn_frozen", "dirac", "whiten", "smoothing", "lookahead", "tta",
          "channels_last", "bf16")  # bf16 acts only where native (native_bf16); elsewhere its rung is a no-op

# Eight techniques whose pairwise interactions the matrix measures (channels_last changes time
# only, nesterov is a one-line optimizer choice; both are left out of the matrix).
MATRIX_TECHNIQUES = ("whiten", "dirac", "bn_frozen", "augment", "smoothing", "onecycle", "lookahead", "tta")


def small_run(data: ImageData, without: Sequence[str] = (), seed: int = 0, evals: int = 4,
              config: Optional[dict] = None) -> dict:
    """One short run of the speedrun recipe without ``without``; plain accuracy is evaluated
    ``evals`` times during training (for time-to-target curves), TTA accuracy at the end."""
    cfg = dict(SMALL, **(config or {}))
    recipe = cifar_speedrun(data, without=tuple(without), seed=seed, **cfg)
    steps = len(recipe.loader) * cfg["epochs"]
    n_eval = cfg.get("n_eval") or len(data.test_y)
    ex, ey = data.test_x[:n_eval], data.test_y[:n_eval]
    final_eval = recipe.evaluate   # with TTA unless "tta" is switched off
    recipe = recipe.with_(evaluate=lambda m: evaluate_tta(m, ex, ey, tta=False))  # cheap, during training
    st = run_recipe(recipe, seed=seed, eval_every=max(1, int(steps // evals)))  # seeds torch itself
    final = final_eval(st.model)
    curve = [{"seconds": e["seconds"], "step": e["step"], "accuracy_plain": e["accuracy_plain"]} for e in st.evals]
    return {"without": sorted(without), "seed": seed, "train_seconds": st.counters.seconds,
            "accuracy": final["accuracy"], "accuracy_plain": final["accuracy_plain"],
            "curve": curve, "config": {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.items()}}


def ladder(data: ImageData, order: Sequence[str] = LADDER, seed: int = 0, **kw) -> list:
    """Build the recipe up one ingredient at a time: run ``k`` has the first ``k`` of ``order`` on
    (ingredients not in ``order`` stay on throughout)."""
    out = []
    for k in range(len(order) + 1):
        r = small_run(data, without=order[k:], seed=seed, **kw)
        r["added"] = order[k - 1] if k else "(none)"
        out.append(r)
    return out


def ablation(data: ImageData, techniques: Optional[Sequence[str]] = None, seeds: Sequence[int] = (0, 1),
             **kw) -> list:
    """The full recipe and the recipe without each one technique, for each seed (by default every
    ingredient that acts on this machine: ``bf16`` only where bf16 is native, see ``native_bf16``)."""
    if techniques is None:
        techniques = [t for t in INGREDIENTS if t != "bf16" or native_bf16(data.train_x.device)]
    return [small_run(data, without=w, seed=s, **kw)
            for w in [()] + [(t,) for t in techniques] for s in seeds]


def budget_sweep(data: ImageData, budgets: Sequence[float] = (0.75, 1.0, 1.25, 1.5, 1.75, 2.5),
                 seeds: Sequence[int] = (0, 1), **kw) -> list:
    """The full recipe at several epoch budgets (each a complete run: the one-cycle schedule and
    the other budget-aware parts follow the budget). With the ablation's full runs at the default
    budget this gives the full recipe's accuracy-vs-budget curve that :func:`iso_accuracy` reads."""
    base = dict(SMALL, **kw.pop("config", None) or {})
    return [small_run(data, seed=s, config=dict(base, epochs=float(b)), **kw) for b in budgets for s in seeds]


def _lerp(xs: Sequence[float], ys: Sequence[float], x: float) -> float:
    """Piecewise-linear y at x inside non-decreasing xs (first matching segment; swap the axes
    to invert an increasing curve)."""
    for x0, y0, x1, y1 in zip(xs, ys, xs[1:], ys[1:]):
        if x0 <= x <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    raise ValueError(f"{x} is outside [{xs[0]}, {xs[-1]}]")


def iso_accuracy(sweep: Sequence[dict], ablation_records: Sequence[dict], metric: str = "accuracy") -> dict:
    """The ablation as a change in **time-to-target**. For each removed ingredient the target is
    the accuracy the ablated recipe reaches at its budget; the full recipe's accuracy-vs-budget
    curve (``sweep`` plus the ablation's full runs, seed means, made increasing by a running
    maximum) gives the budget at which the *full* recipe reaches that same accuracy. Then

    ``epoch_factor = budget / full_budget_at_that_accuracy``: how many times more epochs the recipe
    needs to reach that accuracy without the ingredient (>1: the ingredient saves time), and
    ``time_factor``: the same in measured training seconds (ingredients such as ``channels_last`` or
    ``bf16`` change the cost of an epoch, not the epochs).

    ``interval`` repeats the reading at the ablated accuracy plus and minus one standard error
    (pooled seed-to-seed spread over the square root of the arm's seeds). A target below the curve's
    lowest point gives a lower bound (``bound: "lower"``), above its highest an upper bound."""
    full_runs = [r for r in list(sweep) + list(ablation_records) if r["without"] == []]
    if not full_runs:
        raise ValueError("iso_accuracy needs runs of the full recipe (without=[]): pass the budget sweep")
    by_budget: dict = {}
    for r in full_runs:
        by_budget.setdefault(float(r["config"]["epochs"]), []).append(r)
    budgets = sorted(by_budget)
    if len(budgets) < 2:
        raise ValueError("iso_accuracy needs the full recipe at two budgets or more: run budget_sweep")
    accs, secs = [], []
    for b in budgets:
        accs.append(max([statistics.fmean(r[metric] for r in by_budget[b])] + accs[-1:]))  # running maximum
        secs.append(statistics.fmean(r["train_seconds"] for r in by_budget[b]))
    noise = _pooled_sd(ablation_records, metric)
    arms: dict = {}
    for r in ablation_records:
        if r["without"]:
            arms.setdefault("+".join(r["without"]), []).append(r)

    def read(acc: float, budget: float, seconds: float) -> dict:
        if acc < accs[0] or acc > accs[-1]:
            k = 0 if acc < accs[0] else -1
            e, t, bound = budgets[k], secs[k], "lower" if k == 0 else "upper"
        else:
            e = _lerp(accs, budgets, acc)  # the curve read backwards: budget at this accuracy
            t, bound = _lerp(budgets, secs, e), "exact"
        return {"full_epochs": e, "epoch_factor": budget / e, "time_factor": seconds / t, "bound": bound}

    out = {}
    for name, rs in arms.items():
        acc = statistics.fmean(r[metric] for r in rs)
        budget = float(rs[0]["config"]["epochs"])
        seconds = statistics.fmean(r["train_seconds"] for r in rs)
        se = noise / math.sqrt(len(rs)) if noise == noise else 0.0
        mid = read(acc, budget, seconds)
        lo, hi = read(acc + se, budget, seconds), read(acc - se, budget, seconds)
        out[name] = dict(mid, accuracy=acc, budget=budget, seeds=len(rs),
                         interval=(lo["epoch_factor"], hi["epoch_factor"]))
    return {"budgets": budgets, "full_accuracy": accs, "full_seconds": secs, "noise_sd": noise, "arms": out}


def pair_runs(data: ImageData, techniques: Sequence[str] = MATRIX_TECHNIQUES, seed: int = 0, **kw) -> list:
    """The recipe without each pair of ``techniques`` (one seed)."""
    return [small_run(data, without=p, seed=seed, **kw) for p in itertools.combinations(techniques, 2)]


def _mean_acc(records: Sequence[dict], without: Sequence[str], metric: str = "accuracy") -> Optional[float]:
    vals = [r[metric] for r in records if r["without"] == sorted(without)]
    return statistics.fmean(vals) if vals else None


def _pooled_sd(records: Sequence[dict], metric: str = "accuracy", with_dof: bool = False):
    """Seed-to-seed standard deviation of one run, pooled over every configuration (same
    ``without`` and budget) run with several seeds; NaN when none was."""
    groups: dict = {}
    for r in records:
        groups.setdefault((tuple(r["without"]), r.get("config", {}).get("epochs")), []).append(r[metric])
    dof = sum(len(v) - 1 for v in groups.values() if len(v) > 1)
    pooled = sum((len(v) - 1) * statistics.variance(v) for v in groups.values() if len(v) > 1)
    sd = math.sqrt(pooled / dof) if dof else float("nan")
    return (sd, dof) if with_dof else sd


def interaction_matrix(records: Sequence[dict], techniques: Sequence[str] = MATRIX_TECHNIQUES,
                       metric: str = "accuracy") -> dict:
    """Effects measured by removal from the full recipe, in accuracy points:
    ``effect[a] = acc(full) - acc(full without a)``, ``pair[a][b] = acc(full) - acc(without a, b)``,
    ``interaction[a][b] = pair[a][b] - effect[a] - effect[b]`` (positive: the two together matter
    more than the sum of their parts; negative: they are partly redundant). ``noise_sd_points`` is
    the seed-to-seed standard deviation of one run, pooled over every configuration run with
    several seeds (the full recipe alone can be much steadier than its ablations: its
    initialisation is partly deterministic); an interaction, a sum of four runs, has about twice
    that standard deviation. ``full_sd_points`` is the full recipe's own spread."""
    full = _mean_acc(records, (), metric)
    fulls = [r[metric] for r in records if r["without"] == []]
    sd, dof = _pooled_sd(records, metric, with_dof=True)
    n = len(techniques)
    effect = {t: 100 * (full - _mean_acc(records, (t,), metric)) for t in techniques}
    pair = [[float("nan")] * n for _ in range(n)]
    inter = [[float("nan")] * n for _ in range(n)]
    for i, a in enumerate(techniques):
        for j, b in enumerate(techniques):
            if i == j:
                continue
            acc = _mean_acc(records, (a, b), metric)
            if acc is None:
                continue
            pair[i][j] = 100 * (full - acc)
            inter[i][j] = pair[i][j] - effect[a] - effect[b]
    full_sd = statistics.stdev(fulls) if len(fulls) > 1 else float("nan")
    return {"techniques": list(techniques), "full": full, "noise_sd_points": 100 * sd,
            "full_sd_points": 100 * full_sd, "noise_dof": dof, "effect": effect,
            "pair": pair, "interaction": inter}


def char_race(data: CharData, baseline_steps: int = 1000, speedrun_steps: int = 500, seed: int = 0,
              evals: int = 20, without: Sequence[str] = (), margin: float = 0.0, eval_batches: int = 20) -> dict:
    """Train the baseline char GPT for ``baseline_steps`` and the speedrun for ``speedrun_steps``,
    evaluating ``evals`` times each; the target is the baseline's final validation loss plus
    ``margin``; each evaluation averages ``eval_batches`` fixed validation batches. Returns both
    curves and both times to the target (``None`` when not reached)."""
    runs = {}
    for name, recipe in (("baseline", char_gpt(data, steps=baseline_steps, seed=seed, eval_batches=eval_batches)),
                         ("speedrun", char_speedrun(data, steps=speedrun_steps, seed=seed, without=without,
                                                    eval_batches=eval_batches))):
        st = run_recipe(recipe, seed=seed, eval_every=max(1, recipe.budget.amount // evals))
        runs[name] = {"recipe": recipe.name, "steps": st.counters.step, "train_seconds": st.counters.seconds,
                      "tokens_per_second_nominal": st.counters.samples * 128 / st.counters.seconds,
                      "curve": [{"seconds": e["seconds"], "step": e["step"], "val_loss": e["val_loss"]}
                                for e in st.evals]}
    target = runs["baseline"]["curve"][-1]["val_loss"] + margin
    for r in runs.values():
        r["time_to_target"] = time_to_target(r["curve"], "val_loss", target, higher_is_better=False)
    tb, ts = runs["baseline"]["time_to_target"], runs["speedrun"]["time_to_target"]
    return {"target": target, "runs": runs, "ratio": tb / ts if tb and ts else None}


def baseline_throughput(data: ImageData, repeats: int = 3, resnet_batch: int = 128, recipe_batch: int = 1024,
                        threads: Optional[int] = None) -> dict:
    """Training images/s of the ResNet-18 baseline step (in the default and in the channels-last
    memory format) and of the speedrun step as the recipe runs it on this CPU (in bf16 autocast
    where the CPU has native bf16, see :func:`~accel_lib.system.mixed_precision.native_bf16`; then
    also in fp32, as ``speedrun_fp32``), timed interleaved so that machine noise hits all arms
    alike. ``speedrun_bf16`` in the result says which the ``speedrun`` arm is."""
    from accel_lib.system.mixed_precision import native_bf16
    bf16 = native_bf16("cpu")
    rn = resnet18_cifar()
    rn_cl = resnet18_cifar().to(memory_format=torch.channels_last)
    sr = SpeedrunNet().to(memory_format=torch.channels_last)
    opt_rn = torch.optim.SGD(rn.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    opt_rn_cl = torch.optim.SGD(rn_cl.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    opt_sr = torch.optim.SGD(sr.parameters(), lr=0.1, momentum=0.85, nesterov=True)
    g = torch.Generator().manual_seed(0)
    xr, yr = torch.randn(resnet_batch, 3, 32, 32, generator=g), torch.randint(0, 10, (resnet_batch,), generator=g)
    xs = torch.randn(recipe_batch, 3, 32, 32, generator=g).contiguous(memory_format=torch.channels_last)
    ys = torch.randint(0, 10, (recipe_batch,), generator=g)

    def step(model, opt, x, y, low: bool = False) -> Callable[[], None]:
        def f() -> None:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=low):
                loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
        return f

    arms = {"resnet18": step(rn, opt_rn, xr, yr),
            "resnet18_channels_last": step(rn_cl, opt_rn_cl, xr.contiguous(memory_format=torch.channels_last), yr),
            "speedrun": step(sr, opt_sr, xs, ys, low=bf16)}
    if bf16:
        arms["speedrun_fp32"] = step(sr, opt_sr, xs, ys)
    t = compare(arms, repeats=repeats)
    batch = {"resnet18": resnet_batch, "resnet18_channels_last": resnet_batch, "speedrun": recipe_batch,
             "speedrun_fp32": recipe_batch}
    ips = {k: batch[k] / v.median for k, v in t.items()}
    n = len(data.train_y)
    return {"images_per_second": ips, "epoch_seconds": {k: n / v for k, v in ips.items()}, "speedrun_bf16": bf16,
            "throughput_ratio": ips["speedrun"] / ips["resnet18"],
            "throughput_ratio_channels_last": ips["speedrun"] / ips["resnet18_channels_last"],
            "step_seconds": {k: {"median": v.median, "min": min(v.times), "max": max(v.times)} for k, v in t.items()},
            "batch": {k: batch[k] for k in ips}}


def baseline_ratio(baseline: dict, speedrun: dict, throughput: dict, target: float = 0.90) -> dict:
    """The time-to-target ratio baseline / speedrun on one machine.

    A baseline run long enough to reach the target may span several sessions on different machines
    of the same kind, whose speeds differ (by up to a quarter here), so its recorded seconds do not
    compare with the speedrun's. Its *epochs* to the target do (they do not depend on the machine),
    so each side's time is its epochs to the target divided by its images/s, both images/s measured
    interleaved in one process (``throughput``, from :func:`baseline_throughput`)::

        ratio = (E_baseline / ips_baseline) / (E_speedrun / ips_speedrun)

    ``baseline``: a record of ``benchmarks/baselines.py`` (``evals`` with ``epoch`` and ``accuracy``,
    ``epochs_done``, ``channels_last``). ``speedrun``: a full-run record of
    ``benchmarks/speedrun.py`` (``epochs``, ``reached``, ``bf16``: whether it ran in bf16 autocast,
    which must match the throughput record's ``speedrun_bf16``). If the baseline has not reached the target
    yet, the ratio is a lower bound from the epochs it has done (``"bound": "lower"``); if the
    speedrun did not reach it, there is no ratio.
    """
    if not speedrun.get("reached"):
        raise ValueError("the speedrun record did not reach the target: there is no time-to-target to compare.")
    if not 0 < target <= 1:
        raise ValueError(f"target is a test accuracy in (0, 1], got {target!r}.")
    if bool(speedrun.get("bf16")) != bool(throughput.get("speedrun_bf16")):
        raise ValueError("the speedrun run and the throughput record differ in precision (bf16 autocast on one, "
                         "fp32 on the other): compare a run and a throughput recorded on the same kind of CPU.")
    ips = throughput["images_per_second"]
    key = "resnet18_channels_last" if baseline.get("channels_last") else "resnet18"
    if key not in ips:
        raise ValueError(f"the throughput record has no {key!r} arm: record it again with "
                         "`python benchmarks/speedrun.py baseline-throughput`.")
    e_base = time_to_target(baseline["evals"], "accuracy", target, clock="epoch")
    bound = "exact" if e_base is not None else "lower"
    if e_base is None:
        e_base = baseline["epochs_done"]
    t_base, t_speed = e_base / ips[key], speedrun["epochs"] / ips["speedrun"]
    return {"ratio": t_base / t_speed, "bound": bound, "baseline_epochs": e_base, "speedrun_epochs": speedrun["epochs"],
            "baseline_images_per_second": ips[key], "speedrun_images_per_second": ips["speedrun"],
            "baseline_arm": key, "break_even_epochs": 10 * t_speed * ips[key], "target": target}


def summarize_runs(runs: dict, target: float = 0.90) -> dict:
    """Time-to-target over seeds, per configuration, from the ``runs`` of
    ``benchmarks/results/speedrun.json`` (keys ``cifar/<setting>/seed<N>``; one group per setting,
    so CPU fp32, CPU bf16 and GPU runs stay apart). A run's time-to-target is its training seconds
    if its final accuracy (with TTA) reached ``target``, else it has none. Per group: the number of
    seeds, the fraction that reached the target, the median and the range of the training seconds
    of those that did (None if none did), and the accuracies."""
    import statistics
    groups: dict = {}
    for key, r in runs.items():
        if r.get("kind") == "cifar":
            groups.setdefault(key.rsplit("/", 1)[0], []).append(r)
    out = {}
    for g, rs in sorted(groups.items()):
        hits = [r["train_seconds"] for r in rs if r["accuracy_tta"] >= target]
        out[g] = {"seeds": len(rs), "hit_fraction": len(hits) / len(rs),
                  "median_seconds_to_target": statistics.median(hits) if hits else None,
                  "range_seconds_to_target": [min(hits), max(hits)] if hits else None,
                  "accuracy_tta": [r["accuracy_tta"] for r in rs],
                  "accuracy_plain": [r["accuracy_plain"] for r in rs]}
    return out


def pick_baseline(runs: dict, name: str = "resnet18", target: float = 0.90) -> Optional[dict]:
    """Choose which recorded baseline run gives the epochs to ``target`` for :func:`baseline_ratio`.

    ``runs``: the ``runs`` of ``benchmarks/results/baselines.json``, where a CPU run is stored
    under ``name`` and a run on another device under ``name/<device>`` (e.g. ``resnet18/cuda``).
    In order of preference: the CPU run if it reached the target (everything measured here); else a
    run on another device that reached it (its *epochs* to the target carry over, since the
    arithmetic is the same; its seconds do not, and are not used); else the CPU run as it stands,
    which gives a lower bound. Returns ``{"key", "record", "source"}`` with ``source`` one of
    ``"cpu"``, ``"other-device"``, ``"cpu-unfinished"``, or None when nothing is recorded.
    """
    def reached(r):
        return r.get("evals") and time_to_target(r["evals"], "accuracy", target, clock="epoch") is not None
    cpu = runs.get(name)
    if cpu is not None and reached(cpu):
        return {"key": name, "record": cpu, "source": "cpu"}
    others = sorted(k for k in runs if k.startswith(name + "/"))
    for k in others:
        if reached(runs[k]):
            return {"key": k, "record": runs[k], "source": "other-device"}
    if cpu is not None and cpu.get("evals"):
        return {"key": name, "record": cpu, "source": "cpu-unfinished"}
    return None


# ---------------------------------------------------------------------------------------------
# Recording (called by benchmarks/speedrun.py with its JSON load/save functions)
# ---------------------------------------------------------------------------------------------

def _record(update: Callable, key: str, value) -> None:
    """Store ``value`` under ``studies[key]`` with provenance, through the benchmark's locked
    ``update(change)`` function."""
    import sys
    from accel_lib.core.measure import provenance
    entry = {"result": value, "provenance": provenance("python " + " ".join(sys.argv))}
    update(lambda results: results.setdefault("studies", {}).__setitem__(key, entry))


def record_baseline_throughput(update: Callable, quick: bool = False) -> None:
    from accel_lib.core.datasets import load_cifar10
    r = baseline_throughput(load_cifar10(), repeats=2 if quick else 5)
    _record(update, "baseline_throughput", r)
    print(r)


def record_study(update: Callable, quick: bool = False, parts: Optional[Sequence[str]] = None) -> None:
    """The ladder, the ablation (2 seeds; 3 for the full recipe), the full recipe's budget sweep,
    the pairs and the interaction matrix; each part is saved as soon as it is done, and ``parts``
    selects some of them."""
    from accel_lib.core.datasets import load_cifar10
    parts = parts or ["ladder", "ablation", "sweep", "pairs", "matrix"]
    data = load_cifar10()
    kw = dict(config=dict(n_train=2048, epochs=1.0, n_eval=500)) if quick else {}
    if "ladder" in parts:
        lad = ladder(data, **kw)
        _record(update, "ladder", lad)
        print("ladder", [(r["added"], round(r["accuracy"], 4), round(r["train_seconds"], 1)) for r in lad], flush=True)
    if "ablation" in parts:
        abl = ablation(data, seeds=(0, 1), **kw) + [small_run(data, seed=2, **kw)]
        _record(update, "ablation", abl)
        print("ablation", [(r["without"], r["seed"], round(r["accuracy"], 4)) for r in abl], flush=True)
    if "sweep" in parts:  # the full recipe's accuracy-vs-budget curve, for the ablation in time-to-target
        sw = budget_sweep(data, budgets=(0.5, 1.5), seeds=(0,), **kw) if quick else budget_sweep(data)
        _record(update, "sweep", sw)
        print("sweep", [(r["config"]["epochs"], r["seed"], round(r["accuracy"], 4)) for r in sw], flush=True)
    if "pairs" in parts:
        _record(update, "pairs", pair_runs(data, seed=0, **kw))
    if "matrix" in parts:
        studies = update(lambda results: None).get("studies", {})
        m = interaction_matrix(studies["ablation"]["result"] + studies["pairs"]["result"])
        _record(update, "interactions", m)
        print("interactions", m, flush=True)


def record_char(update: Callable, quick: bool = False) -> None:
    from accel_lib.core.datasets import load_tinyshakespeare
    data = load_tinyshakespeare()
    r = char_race(data, baseline_steps=60 if quick else 1000, speedrun_steps=30 if quick else 500)
    _record(update, "char_race", r)
    print({k: v for k, v in r.items() if k != "runs"},
          {k: (v["time_to_target"], v["train_seconds"]) for k, v in r["runs"].items()})
