"""The speedrun studies: the interaction arithmetic, the char-LM recipe, and tiny real runs."""
from __future__ import annotations

import math

import pytest
import torch

from accel_lib.core import run_recipe
from accel_lib.core.baselines import char_gpt
from accel_lib.optim.muon import Muon
from accel_lib.recipes.char_speedrun import CHAR_INGREDIENTS, char_speedrun
from accel_lib.recipes.study import budget_sweep, char_race, interaction_matrix, iso_accuracy, ladder, small_run

TINY = dict(widths=(8, 16, 16), n_train=256, epochs=1.0, batch_size=128, n_eval=100)


def _rec(without, acc, seed=0):
    return {"without": sorted(without), "seed": seed, "accuracy": acc}


def test_interactions_of_additive_effects_are_zero():
    recs = [_rec((), 0.90, 0), _rec((), 0.92, 1), _rec(("a",), 0.86), _rec(("b",), 0.89), _rec(("a", "b"), 0.85)]
    m = interaction_matrix(recs, techniques=("a", "b"))
    assert m["effect"]["a"] == pytest.approx(5.0) and m["effect"]["b"] == pytest.approx(2.0)
    assert m["pair"][0][1] == pytest.approx(6.0)
    assert m["interaction"][0][1] == pytest.approx(-1.0)      # removing both costs 1 point less than the sum
    assert m["interaction"][1][0] == m["interaction"][0][1] and math.isnan(m["interaction"][0][0])
    assert m["noise_sd_points"] == pytest.approx(100 * 0.01 * math.sqrt(2))


def test_superadditive_pair_has_positive_interaction():
    recs = [_rec((), 0.9), _rec(("a",), 0.89), _rec(("b",), 0.89), _rec(("a", "b"), 0.80)]
    m = interaction_matrix(recs, techniques=("a", "b"))
    assert m["interaction"][0][1] == pytest.approx(8.0)
    assert math.isnan(m["noise_sd_points"])                   # one seed: no spread to report


def _run(without, acc, epochs, seconds, seed=0):
    return dict(_rec(without, acc, seed), config={"epochs": epochs}, train_seconds=seconds)


def test_iso_accuracy_turns_an_accuracy_loss_into_a_time_to_target_factor():
    sweep = [_run((), 0.80, 1.0, 10.0), _run((), 0.95, 3.0, 30.0)]
    abl = [_run((), 0.90, 2.0, 20.0, 0), _run((), 0.92, 2.0, 20.0, 1),
           _run(("a",), 0.85, 2.0, 20.0, 0), _run(("a",), 0.86, 2.0, 20.0, 1),  # helps: costs time
           _run(("b",), 0.93, 2.0, 20.0),                                        # hurts: recipe faster without
           _run(("c",), 0.70, 2.0, 20.0),                                        # below the curve: a bound
           _run(("d",), 0.91, 2.0, 26.0)]                                        # same accuracy, dearer epochs
    r = iso_accuracy(sweep, abl)
    assert r["budgets"] == [1.0, 2.0, 3.0] and r["full_accuracy"] == pytest.approx([0.80, 0.91, 0.95])
    a = r["arms"]["a"]   # full recipe reaches 85.5% at 1.5 epochs (15 s): a saves a third
    assert a["full_epochs"] == pytest.approx(1.5) and a["bound"] == "exact" and a["seeds"] == 2
    assert a["epoch_factor"] == pytest.approx(4 / 3) and a["time_factor"] == pytest.approx(4 / 3)
    assert a["interval"][0] < a["epoch_factor"] < a["interval"][1]
    assert r["noise_sd"] == pytest.approx(math.sqrt((0.0002 + 0.00005) / 2))
    assert r["arms"]["b"]["epoch_factor"] == pytest.approx(0.8)
    assert r["arms"]["c"]["bound"] == "lower" and r["arms"]["c"]["epoch_factor"] == pytest.approx(2.0)
    d = r["arms"]["d"]
    assert d["epoch_factor"] == pytest.approx(1.0) and d["time_factor"] == pytest.approx(1.3)


def test_iso_accuracy_reads_a_running_maximum_and_refuses_too_few_budgets():
    sweep = [_run((), 0.80, 1.0, 10.0), _run((), 0.78, 1.5, 15.0), _run((), 0.90, 2.5, 25.0)]
    abl = [_run((), 0.90, 2.0, 20.0), _run(("a",), 0.85, 2.0, 20.0)]
    r = iso_accuracy(sweep, abl)
    assert r["full_accuracy"] == pytest.approx([0.80, 0.80, 0.90, 0.90])  # a noisy dip does not count twice
    assert r["arms"]["a"]["full_epochs"] == pytest.approx(1.75)
    with pytest.raises(ValueError, match="two budgets"):
        iso_accuracy([], abl)
    with pytest.raises(ValueError, match="full recipe"):
        iso_accuracy([], [_run(("a",), 0.85, 2.0, 20.0)])


def test_budget_sweep_runs_the_full_recipe_at_each_budget(cifar10):
    sw = budget_sweep(cifar10, budgets=(0.5, 1.0), seeds=(0,), config=TINY)
    assert [r["config"]["epochs"] for r in sw] == [0.5, 1.0] and all(r["without"] == [] for r in sw)
    assert sw[0]["curve"][-1]["step"] == 1 and sw[1]["curve"][-1]["step"] == 2


def test_char_speedrun_with_everything_off_is_the_baseline(shakespeare):
    base = char_gpt(shakespeare, steps=5)
    off = char_speedrun(shakespeare, steps=5, without=CHAR_INGREDIENTS)
    assert off.techniques == [] and off.lr_schedule(0.5) == base.lr_schedule(0.5)
    opt = off.optimizer(off.model().parameters())
    assert isinstance(opt, torch.optim.AdamW) and opt.param_groups[0]["lr"] == 3e-3
    with pytest.raises(ValueError, match="choose from"):
        char_speedrun(shakespeare, without=("adam",))


def test_char_speedrun_puts_block_matrices_on_muon(shakespeare):
    r = char_speedrun(shakespeare, steps=5)
    net = r.model()
    opt = r.optimizer(net.parameters())
    assert isinstance(opt, Muon)
    muon, other = opt.param_groups
    names = {id(p): n for n, p in net.named_parameters()}
    assert muon["use_muon"] and all(names[id(p)].startswith("blocks.") and p.ndim == 2 for p in muon["params"])
    assert {names[id(p)] for p in other["params"]} >= {"tok.weight", "pos.weight"}


def test_small_runs_train_and_record_curves(cifar10):
    r = small_run(cifar10, without=("tta",), evals=2, config=TINY)
    assert r["without"] == ["tta"] and r["accuracy"] == r["accuracy_plain"]
    assert len(r["curve"]) >= 2 and r["curve"][-1]["step"] == 2
    lad = ladder(cifar10, order=("augment", "tta"), config=TINY)
    assert [x["added"] for x in lad] == ["(none)", "augment", "tta"]
    assert lad[0]["without"] == ["augment", "tta"] and lad[-1]["without"] == []


def test_char_race_reports_a_ratio_against_the_baseline_final_loss(shakespeare):
    r = char_race(shakespeare, baseline_steps=6, speedrun_steps=4, evals=2)
    assert r["target"] == pytest.approx(r["runs"]["baseline"]["curve"][-1]["val_loss"])
    assert r["runs"]["baseline"]["time_to_target"] is not None   # it reaches its own final loss
    assert r["runs"]["speedrun"]["steps"] == 4


def _tp(rn=20.0, rn_cl=25.0, sr=150.0):
    return {"images_per_second": {"resnet18": rn, "resnet18_channels_last": rn_cl, "speedrun": sr}}


def test_baseline_ratio_uses_epochs_to_target_and_interleaved_throughput():
    from accel_lib.recipes.study import baseline_ratio
    evals = [{"epoch": e, "accuracy": a} for e, a in [(1, 0.5), (10, 0.85), (18, 0.9), (19, 0.92)]]
    base = {"evals": evals, "epochs_done": 19, "channels_last": True}
    speed = {"epochs": 9.0, "reached": True}
    r = baseline_ratio(base, speed, _tp())
    # (18 / 25) / (9 / 150) = 12
    assert r["bound"] == "exact" and r["baseline_epochs"] == 18 and abs(r["ratio"] - 12.0) < 1e-12
    # break-even: the baseline epochs that give exactly 10x
    assert abs(r["break_even_epochs"] - 15.0) < 1e-12
    r_default = baseline_ratio(dict(base, channels_last=False), speed, _tp())
    assert r_default["baseline_arm"] == "resnet18" and abs(r_default["ratio"] - 15.0) < 1e-12


def test_baseline_ratio_is_a_lower_bound_while_the_baseline_has_not_reached_the_target():
    from accel_lib.recipes.study import baseline_ratio
    base = {"evals": [{"epoch": 5.0, "accuracy": 0.8}], "epochs_done": 5.0, "channels_last": False}
    r = baseline_ratio(base, {"epochs": 10.0, "reached": True}, _tp())
    assert r["bound"] == "lower" and abs(r["ratio"] - (5 / 20) / (10 / 150)) < 1e-12


def test_baseline_ratio_refuses_what_it_cannot_compare():
    from accel_lib.recipes.study import baseline_ratio
    base = {"evals": [{"epoch": 1.0, "accuracy": 0.95}], "epochs_done": 1.0, "channels_last": True}
    with pytest.raises(ValueError, match="did not reach"):
        baseline_ratio(base, {"epochs": 9.9, "reached": False}, _tp())
    with pytest.raises(ValueError, match="differ in precision"):
        baseline_ratio(base, {"epochs": 9.9, "reached": True, "bf16": True}, _tp())
    with pytest.raises(ValueError, match="baseline-throughput"):
        baseline_ratio(base, {"epochs": 9.9, "reached": True}, {"images_per_second": {"resnet18": 1, "speedrun": 2}})


def test_pick_baseline_prefers_a_finished_cpu_run_then_epochs_from_another_device():
    from accel_lib.recipes.study import pick_baseline
    cpu_part = {"evals": [{"epoch": 4.2, "accuracy": 0.72}], "epochs_done": 4.2}
    cpu_done = {"evals": [{"epoch": 19.0, "accuracy": 0.905}], "epochs_done": 19.0}
    gpu_done = {"evals": [{"epoch": 20.0, "accuracy": 0.91}], "epochs_done": 20.0}
    gpu_part = {"evals": [{"epoch": 3.0, "accuracy": 0.70}], "epochs_done": 3.0}
    assert pick_baseline({}) is None
    assert pick_baseline({"resnet18": cpu_part})["source"] == "cpu-unfinished"
    assert pick_baseline({"resnet18": cpu_part, "resnet18/cuda": gpu_part})["source"] == "cpu-unfinished"
    got = pick_baseline({"resnet18": cpu_part, "resnet18/cuda": gpu_done, "fastcnn/cuda": cpu_done})
    assert got["key"] == "resnet18/cuda" and got["source"] == "other-device"
    got = pick_baseline({"resnet18": cpu_done, "resnet18/cuda": gpu_done})
    assert got["key"] == "resnet18" and got["source"] == "cpu"
    assert pick_baseline({"resnet18/cuda": gpu_done})["source"] == "other-device"
    assert pick_baseline({"resnet18/cuda": gpu_part}) is None  # an unfinished GPU run bounds nothing here


def test_baseline_throughput_times_three_arms_interleaved():
    from accel_lib.recipes.study import baseline_throughput
    labels = torch.zeros(10, dtype=torch.long)  # only len(train_y) is read: the epoch length
    data = type("D", (), {"train_y": labels})()
    r = baseline_throughput(data, repeats=1, resnet_batch=2, recipe_batch=2)
    arms = {"resnet18", "resnet18_channels_last", "speedrun"} | ({"speedrun_fp32"} if r["speedrun_bf16"] else set())
    assert set(r["images_per_second"]) == arms
    assert all(v > 0 for v in r["images_per_second"].values())
    assert r["epoch_seconds"]["speedrun"] == pytest.approx(10 / r["images_per_second"]["speedrun"])



def test_summarize_runs_reports_median_range_and_hit_fraction_per_setting():
    from accel_lib.recipes.study import summarize_runs

    def run(acc, secs):
        return {"kind": "cifar", "accuracy_tta": acc, "accuracy_plain": acc - 0.01, "train_seconds": secs}
    runs = {"cifar/bf16/9.9ep/full/seed0": run(0.905, 1100), "cifar/bf16/9.9ep/full/seed1": run(0.899, 1000),
            "cifar/bf16/9.9ep/full/seed2": run(0.903, 1300), "cifar/9.9ep/full/seed0": run(0.8, 3000),
            "char/x": {"kind": "char"}}
    s = summarize_runs(runs)
    assert set(s) == {"cifar/bf16/9.9ep/full", "cifar/9.9ep/full"}
    g = s["cifar/bf16/9.9ep/full"]
    assert g["seeds"] == 3 and abs(g["hit_fraction"] - 2 / 3) < 1e-12
    assert g["median_seconds_to_target"] == 1200 and g["range_seconds_to_target"] == [1100, 1300]
    assert s["cifar/9.9ep/full"]["median_seconds_to_target"] is None and s["cifar/9.9ep/full"]["hit_fraction"] == 0
