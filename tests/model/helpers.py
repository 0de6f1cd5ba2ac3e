"""Small shared helpers for the model-part tests."""
from __future__ import annotations

import torch

from accel_lib.core import Budget, FastCNN, GPT, GPTConfig, ImageLoader, CharLoader, train


def tiny_images(n: int = 32, size: int = 16, classes: int = 10, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=g),
            torch.randint(0, classes, (n,), generator=g))


def tiny_gpt(n_layer: int = 2, seed: int = 0, **kw) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=17, block_size=16, n_layer=n_layer, n_head=2, n_embd=16, **kw))


def train_cnn(techniques, steps: int = 2, widths=(8, 16, 16)):
    x, y = tiny_images()
    torch.manual_seed(0)
    model = FastCNN(widths)
    loader = ImageLoader(x, y, batch_size=8)
    return train(model, loader, budget=Budget(steps, "steps"), techniques=techniques,
                 optimizer=lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9), device="cpu")


def train_gpt(model, techniques, steps: int = 4, lr: float = 1e-2):
    data = torch.randint(0, 17, (2000,), generator=torch.Generator().manual_seed(1))
    loader = CharLoader(data, block_size=16, batch_size=4)
    return train(model, loader, budget=Budget(steps, "steps"), techniques=techniques,
                 optimizer=lambda p: torch.optim.AdamW(p, lr=lr), device="cpu", log_every=1)
