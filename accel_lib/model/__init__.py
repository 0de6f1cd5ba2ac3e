"""Model-centric techniques: fast basic modules, compression training, initialization, model curriculum."""
CATALOG: list = []
