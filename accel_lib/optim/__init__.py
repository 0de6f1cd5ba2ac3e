"""Optimization-centric techniques: learning rate, large batch, efficient objectives, model averaging.

Each module is one technique (its docstring is the card); ``CATALOG`` lists them in book order.
"""
from accel_lib.core import CatalogEntry, FastCNN

from .adafactor import Adafactor
from .adamw import AdamW
from .distillation import Distillation, distillation_loss
from .ema import EMA
from .lamb import LAMB
from .lars import LARS
from .lawa import LAWA
from .lookahead import Lookahead
from .looksam import LookSAM
from .lr_range_test import lr_range_test
from .muon import Muon, muon_param_groups
from .noise_scale import GradientNoiseScale
from .sam import SAM
from .swa import SWA, swa_schedule, update_bn

_LR, _LB, _OBJ, _AVG = "learning rate", "large batch size", "efficient objectives", "model average"
_P_LR, _P_LB, _P_OBJ, _P_AVG = ("book/optim/learning_rate.ipynb", "book/optim/large_batch.ipynb",
                                "book/optim/objectives.ipynb", "book/optim/averaging.ipynb")


def _E(name, sub, mod, speeds, ref, page, make=None):
    return CatalogEntry(name, "optim", sub, f"accel_lib.optim.{mod}", speeds, ref, page, make)


CATALOG = [
    _E("LR schedules (warmup, step, cosine, SGDR, one-cycle, inverse-sqrt, WSD)", _LR, "schedules",
       "time-to-accuracy", "torch.optim.lr_scheduler", _P_LR),
    _E("LR range test", _LR, "lr_range_test", "tuning time", "none", _P_LR),
    _E("Linear scaling rule with warmup", _LB, "linear_scaling", "wall-clock per epoch", "none", _P_LB),
    _E("LARS", _LB, "lars", "wall-clock at large batch", "none", _P_LB),
    _E("LAMB", _LB, "lamb", "wall-clock at large batch", "torch.optim.AdamW (trust ratio off)", _P_LB),
    _E("Gradient accumulation", _LB, "accumulation", "memory (large batch on a small device)",
       "accel_lib.core.train(accumulation=)", _P_LB),
    _E("Batch-size ramp-up", _LB, "batch_ramp", "optimizer steps", "none", _P_LB),
    _E("Gradient noise scale", _LB, "noise_scale", "batch-size planning", "none", _P_LB,
       lambda: GradientNoiseScale(every=1)),
    _E("SAM", _OBJ, "sam", "time-to-accuracy (generalisation)", "none", _P_OBJ),
    _E("LookSAM", _OBJ, "looksam", "cost per step vs SAM", "none", _P_OBJ),
    _E("Knowledge distillation", _OBJ, "distillation", "time-to-accuracy of a small model", "none", _P_OBJ,
       lambda: Distillation(FastCNN((8, 8, 8)))),
    _E("AdamW", _LR, "adamw", "time-to-accuracy, tuning", "torch.optim.AdamW", _P_OBJ),
    _E("Adafactor", _LR, "adafactor", "optimizer memory", "torch.optim.Adafactor", _P_OBJ),
    _E("Muon", _LR, "muon", "time-to-accuracy", "torch.optim.Muon", _P_OBJ),
    _E("EMA of weights", _AVG, "ema", "time-to-accuracy", "torch.optim.swa_utils.AveragedModel", _P_AVG,
       lambda: EMA(decay=0.9)),
    _E("SWA", _AVG, "swa", "time-to-accuracy", "torch.optim.swa_utils", _P_AVG, lambda: SWA(start=0.0)),
    _E("Lookahead", _AVG, "lookahead", "time-to-accuracy, robustness", "none", _P_AVG, lambda: Lookahead(k=1)),
    _E("LAWA", _AVG, "lawa", "time-to-accuracy", "none", _P_AVG, lambda: LAWA(every=1)),
]

__all__ = ["CATALOG", "SAM", "LookSAM", "LARS", "LAMB", "AdamW", "Adafactor", "Muon", "muon_param_groups", "EMA",
           "SWA", "Lookahead", "LAWA", "GradientNoiseScale", "Distillation", "distillation_loss", "lr_range_test",
           "swa_schedule", "update_bn"]
