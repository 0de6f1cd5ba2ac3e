"""The speedrun studies: the interaction arithmetic, the char-LM recipe, and tiny real runs."""
from __future__ import annotations

import math

import pytest
import torch

from accel_lib.core import run_recipe
from accel_lib.core.baselines import char_gpt
from accel_lib.optim.muon import Muon
from accel_lib.recipes.char_speedrun import CHAR_INGREDIENTS, char_speedrun
from accel_lib.recipes.study import char_race, interaction_matrix, ladder, small_run

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
