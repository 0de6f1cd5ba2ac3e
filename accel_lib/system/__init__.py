"""System-centric techniques: mixed precision, memory, compilation, input pipeline, distributed training.

One device (this package's top-level modules): :mod:`.loss_scaling`, :mod:`.mixed_precision`,
:mod:`.master_weights`, :mod:`.checkpointing`, :mod:`.offload`, :mod:`.memory_model`,
:mod:`.compilation`, :mod:`.input_pipeline`, :mod:`.optimizer_step`, :mod:`.profiling`.
Several devices: :mod:`.distributed`. :func:`gpu_summary` prints the chapter's recorded GPU figures.
"""
from accel_lib.core.registry import CatalogEntry

from ._recorded import gpu_summary, load_gpu_results

__all__ = ["CATALOG", "gpu_summary", "load_gpu_results"]


def _half_precision():
    from .master_weights import HalfPrecision
    return HalfPrecision("bf16")


def _checkpointing():
    from .checkpointing import ActivationCheckpointing
    return ActivationCheckpointing(every=1)


def _compile():
    from .compilation import Compile
    return Compile(backend="aot_eager")  # the meta-test only checks the mechanics; inductor compiles for seconds


CATALOG: list = [
    CatalogEntry("Dynamic loss scaling", "system", "mixed precision", "accel_lib.system.loss_scaling",
                 "fp16 convergence (enables fp16 speed/memory)", "torch.amp.GradScaler",
                 "book/system/precision.ipynb"),
    CatalogEntry("fp16/bf16 weights with fp32 master weights", "system", "mixed precision",
                 "accel_lib.system.master_weights", "memory and wall-clock on GPUs",
                 "torch.autocast + torch.amp.GradScaler", "book/system/precision.ipynb", make=_half_precision),
    CatalogEntry("Autocast mixed precision (bf16/fp16)", "system", "mixed precision",
                 "accel_lib.system.mixed_precision", "wall-clock and activation memory on GPUs",
                 "torch.autocast", "book/system/precision.ipynb"),
    CatalogEntry("Activation checkpointing", "system", "memory", "accel_lib.system.checkpointing",
                 "activation memory (costs recompute time)", "torch.utils.checkpoint",
                 "book/system/memory.ipynb", make=_checkpointing),
    CatalogEntry("Activation and optimizer offload", "system", "memory", "accel_lib.system.offload",
                 "accelerator memory (costs copies)", "torch.autograd.graph.save_on_cpu",
                 "book/system/memory.ipynb"),
    CatalogEntry("Memory breakdown model", "system", "memory", "accel_lib.system.memory_model",
                 "planning (which memory technique pays)", "none", "book/system/memory.ipynb"),
    CatalogEntry("torch.compile", "system", "compilation", "accel_lib.system.compilation",
                 "wall-clock (operator fusion, less overhead)", "torch.compile",
                 "book/system/compilation.ipynb", make=_compile),
    CatalogEntry("Input pipeline: workers, prefetching, data echoing", "system", "input pipeline",
                 "accel_lib.system.input_pipeline", "wall-clock of data-bound steps",
                 "torch.utils.data.DataLoader", "book/system/input_pipeline.ipynb"),
    CatalogEntry("Foreach and fused optimizer steps", "system", "input pipeline",
                 "accel_lib.system.optimizer_step", "wall-clock of the update",
                 "torch.optim.AdamW(foreach=True / fused=True)", "book/system/input_pipeline.ipynb"),
    CatalogEntry("Profiling a training step", "system", "input pipeline", "accel_lib.system.profiling",
                 "finding the bottleneck", "torch.profiler", "book/system/input_pipeline.ipynb"),
]

# Distributed training (Part 5b) keeps its entries in its own subpackage.
from .distributed import CATALOG as _DISTRIBUTED  # noqa: E402

CATALOG = CATALOG + list(_DISTRIBUTED)
