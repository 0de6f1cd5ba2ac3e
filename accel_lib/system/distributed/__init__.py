"""Distributed training from scratch and with ``torch.distributed``: launching, collectives, data
parallelism, ZeRO sharding, tensor and pipeline parallelism, communication compression, and a
parallelism planner."""
CATALOG: list = []
