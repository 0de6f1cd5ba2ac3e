"""Budgeted training: budget-aware schedules, budget planning and search under a budget."""
CATALOG: list = []
