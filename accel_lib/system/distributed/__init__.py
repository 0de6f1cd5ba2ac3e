"""Distributed training from scratch and with ``torch.distributed``: launching, collectives, data
parallelism, ZeRO sharding, tensor and pipeline parallelism, communication compression, and a
parallelism planner.

Every module's workers are importable functions, so that
:func:`~accel_lib.system.distributed.launch.run_workers` (a notebook, a test) and ``torchrun``
(GPUs, several nodes) can start them.
"""
from accel_lib.core.registry import CatalogEntry

_B = "book/distributed/"
CATALOG: list = [
    CatalogEntry("Launching workers (run_workers, torchrun)", "system", "distributed training",
                 "accel_lib.system.distributed.launch", "nothing by itself: starts the ranks",
                 "torch.multiprocessing.spawn / torchrun", _B + "collectives.ipynb"),
    CatalogEntry("Ring all-reduce and collectives", "system", "communication",
                 "accel_lib.system.distributed.collectives", "communication (bandwidth-optimal all-reduce)",
                 "torch.distributed.all_reduce / reduce_scatter / all_gather", _B + "collectives.ipynb"),
    CatalogEntry("Data parallelism (naive, bucketed overlap)", "system", "distributed training",
                 "accel_lib.system.distributed.data_parallel", "wall-clock (batch split over N ranks)",
                 "torch.nn.parallel.DistributedDataParallel", _B + "data_parallel.ipynb"),
    CatalogEntry("ZeRO-1/2/3 sharding", "system", "distributed training",
                 "accel_lib.system.distributed.zero", "memory per device (1/N of state, gradients, weights)",
                 "torch.distributed.fsdp.fully_shard, ZeroRedundancyOptimizer", _B + "sharding.ipynb"),
    CatalogEntry("Parallelism planner", "system", "distributed training",
                 "accel_lib.system.distributed.planner", "choice of layout (predicted memory and step time)",
                 "none", _B + "sharding.ipynb"),
    CatalogEntry("Tensor parallelism (Megatron)", "system", "distributed training",
                 "accel_lib.system.distributed.tensor_parallel", "memory and FLOPs per device within a layer",
                 "torch.distributed.tensor.parallel.parallelize_module", _B + "tensor_parallel.ipynb"),
    CatalogEntry("Pipeline parallelism (GPipe, 1F1B)", "system", "distributed training",
                 "accel_lib.system.distributed.pipeline_parallel", "memory per device across layers",
                 "torch.distributed.pipelining (ScheduleGPipe, Schedule1F1B)", _B + "pipeline_parallel.ipynb"),
    CatalogEntry("Communication compression (top-k, PowerSGD, local SGD)", "system", "communication",
                 "accel_lib.system.distributed.compression", "communication volume",
                 "DDP powerSGD_hook, PeriodicModelAverager", _B + "compression.ipynb"),
]
