"""accel_lib: techniques that make deep-learning training faster and cheaper, implemented from
scratch next to their PyTorch equivalents. The library behind the accel-book textbook.

Packages mirror the survey's taxonomy (Shen et al., 2023): ``core`` (loop, budget, measurement,
data, models) and the five perspectives ``data``, ``model``, ``optim``, ``budget``, ``system``;
``recipes`` combines them. See :mod:`accel_lib.catalog` for the list of techniques.
"""
__version__ = "0.1.0"
