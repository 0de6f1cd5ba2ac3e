"""Optimization-centric techniques: learning rate, large batch, efficient objectives, model averaging."""
CATALOG: list = []
