"""System-centric techniques: mixed precision, memory, compilation, input pipeline, distributed training."""
CATALOG: list = []
