"""Budgeted training: budget-aware schedules, budget planning, compute-optimal sizing, cramming and
hyperparameter search under a budget. Every module imports only :mod:`accel_lib.core`."""
from accel_lib.core import CatalogEntry

from .compute_optimal import (compute_optimal_sweep, fit_optimum, flops_per_token, measured_flops_per_token,
                              non_embedding_params, tokens_for_budget, train_char_lm_for_flops)
from .cramming import ABLATION, ClipGradNorm, CramConfig, apply_changes, cram_char_lm, cramming_ablation
from .halving import (SearchResult, classifier_objective, equal_budget_random_search, halving_rungs, holdout,
                      random_search, sample_configs,
                      successive_halving)
from .planner import Plan, measure_throughput, plan_budget, planner_widget, plot_plan
from .schedules import (SCHEDULES, BudgetSchedule, budget_schedule, constant, cosine, linear_to_zero, rex,
                        step_decay, with_warmup)
from .sweep import best_by_fraction, budget_sweep, downsample, plot_sweep, sweep_table, train_for_budget

_S = "budgeted training"

CATALOG: list = [
    CatalogEntry("Budget-aware LR schedules (linear-to-zero, REX)", "budget", _S, "accel_lib.budget.schedules",
                 "time-to-accuracy under a fixed budget",
                 "torch.optim.lr_scheduler.LinearLR / CosineAnnealingLR / MultiStepLR",
                 "book/budget/schedules.ipynb", make=lambda: BudgetSchedule("rex", warmup=0.1)),
    CatalogEntry("Budget sweep", "budget", _S, "accel_lib.budget.sweep",
                 "accuracy lost when the budget shrinks", "none", "book/budget/schedules.ipynb"),
    CatalogEntry("Budget planner", "budget", _S, "accel_lib.budget.planner",
                 "planning: steps, epochs and schedule a budget buys", "none", "book/budget/schedules.ipynb"),
    CatalogEntry("Compute-optimal sizing", "budget", _S, "accel_lib.budget.compute_optimal",
                 "loss per training FLOP", "torch.utils.flop_counter.FlopCounterMode",
                 "book/budget/compute_optimal.ipynb"),
    CatalogEntry("Cramming (best model in N seconds)", "budget", _S, "accel_lib.budget.cramming",
                 "loss within a wall-clock budget", "torch.nn.utils.clip_grad_norm_",
                 "book/budget/cramming.ipynb", make=lambda: ClipGradNorm(1.0)),
    CatalogEntry("Successive halving", "budget", _S, "accel_lib.budget.halving",
                 "hyperparameter search under a total budget", "none", "book/budget/search.ipynb"),
]

__all__ = [n for n in dir() if not n.startswith("_")]
