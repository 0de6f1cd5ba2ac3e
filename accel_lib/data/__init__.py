"""Data-centric techniques: dataset regularization, data sampling, data curriculum."""
CATALOG: list = []
