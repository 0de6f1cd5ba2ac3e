"""The CIFAR-10 speedrun: techniques from all five parts stacked into one recipe.

The recipe is a plain function, :func:`cifar_speedrun`, that returns a
:class:`~accel_lib.core.baselines.Recipe` (model factory, loader, optimizer factory, LR schedule,
budget, evaluation, techniques). Every ingredient can be switched off by name, which is what the
ablation and the interaction matrix do (``accel_lib.recipes.study``). The ingredients:

================= ======================================================================== ========
name              what                                                                     part
================= ======================================================================== ========
``net``           the fast CNN (three pooled conv blocks, max-pool head, scaled logits)    model
``whiten``        first layer initialised to whiten 2x2 patches (PCA of the data), frozen  model
``dirac``         identity (Dirac) initialisation of the 3x3 convolutions                  model
``bn_frozen``     BatchNorm scales fixed at 1, shifts trained with a 64x larger LR         optim
``augment``       on-device batched random translation (2 px) and flip                     data
``smoothing``     label smoothing 0.2                                                      data
``onecycle``      budget-aware triangular LR (warm-up to 23%, linear decay to 7%)          budget
``nesterov``      Nesterov momentum 0.85 (without: heavy-ball momentum 0.85), batch 1024   optim
``lookahead``     Lookahead with a slow-weight rate that decays as training ends           optim
``tta``           test-time augmentation: flips and 1-pixel translations                   data
``channels_last`` model and batches in channels-last memory format (1.24x on an AVX2 CPU)  system
``bf16``          bf16 autocast where bf16 is native (``native_bf16``: GPUs, AVX512-BF16)  system
================= ======================================================================== ========

With everything on this is the recipe of Keller Jordan's airbench94 (94% on canonical CIFAR-10
in about 10 epochs), rewritten on top of ``accel_lib``'s loop and techniques. Removing
``whiten``/``dirac``/``bn_frozen`` gives the plain :class:`~accel_lib.core.models.FastCNN`
stem; removing ``onecycle`` gives a constant LR; removing ``nesterov`` gives plain momentum SGD.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional, Sequence

import torch
from torch import nn

from accel_lib.core import Technique
from accel_lib.core.baselines import Recipe, triangular
from accel_lib.core.budget import Budget
from accel_lib.core.datasets import ImageData
from accel_lib.core.loaders import ImageLoader, normalize
from accel_lib.core.models import ConvBlock
from accel_lib.data.label_smoothing import LabelSmoothing
from accel_lib.model.channels_last import ChannelsLast
from accel_lib.system.mixed_precision import autocast, native_bf16
from accel_lib.optim.lookahead import Lookahead

__all__ = ["INGREDIENTS", "SpeedrunNet", "whitening_filters", "init_whitening", "ScheduledLookahead",
           "FreezeParams", "tta_logits", "evaluate_tta", "cifar_speedrun"]

INGREDIENTS = ("whiten", "dirac", "bn_frozen", "augment", "smoothing", "onecycle", "nesterov",
               "lookahead", "tta", "channels_last", "bf16")


class SpeedrunNet(nn.Module):
    """Whitening stem (2x2 conv, no padding) + GELU, three :class:`ConvBlock`, max-pool, linear.

    ``whiten=False`` replaces the stem by a trained 3x3 conv-BN-GELU (the FastCNN stem).
    """

    def __init__(self, widths: Sequence[int] = (64, 256, 256), whiten: bool = True, num_classes: int = 10,
                 scale: float = 1 / 9) -> None:
        super().__init__()
        if len(widths) != 3 or min(widths) < 1:
            raise ValueError(f"widths must be three positive channel counts, got {tuple(widths)!r}.")
        self.whiten = whiten
        if whiten:
            stem_out = 24  # 12 whitened directions of a 2x2x3 patch, each with both signs
            self.stem = nn.Sequential(nn.Conv2d(3, stem_out, 2, padding=0, bias=True), nn.GELU())
        else:
            stem_out = widths[0]
            self.stem = nn.Sequential(nn.Conv2d(3, stem_out, 3, padding=1, bias=False),
                                      nn.BatchNorm2d(stem_out), nn.GELU())
        self.blocks = nn.Sequential(ConvBlock(stem_out, widths[0]), ConvBlock(widths[0], widths[1]),
                                    ConvBlock(widths[1], widths[2]))
        self.head = nn.Linear(widths[2], num_classes, bias=False)
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, 3, 32, 32)
        h = self.blocks(self.stem(x))                      # (B, C, 3, 3) with the whitening stem
        return self.head(torch.amax(h, dim=(2, 3))) * self.scale


@torch.no_grad()
def whitening_filters(images: torch.Tensor, eps: float = 5e-4) -> torch.Tensor:
    """Conv filters (24, 3, 2, 2) that whiten the 2x2 patches of normalised ``images`` (N, 3, H, W).

    The patch covariance is eigendecomposed; each eigenvector scaled by ``1/sqrt(eigenvalue+eps)``
    is one filter, and its negation another (GELU after the stem keeps both halves of each direction).
    """
    if images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"images must be (N, 3, H, W) normalised floats, got shape {tuple(images.shape)}.")
    x = images.double()
    patches = x.unfold(2, 2, 1).unfold(3, 2, 1)               # (N, 3, H-1, W-1, 2, 2)
    patches = patches.permute(0, 2, 3, 1, 4, 5).reshape(-1, 12)  # one row per 2x2x3 patch
    patches = patches - patches.mean(0)
    cov = patches.T @ patches / len(patches)                   # (12, 12)
    evals, evecs = torch.linalg.eigh(cov)                      # ascending eigenvalues
    evals, evecs = evals.flip(0), evecs.flip(1)                # strongest direction first
    w = (evecs.T / torch.sqrt(evals + eps)[:, None]).reshape(12, 3, 2, 2)
    return torch.cat([w, -w]).float()


def init_whitening(model: SpeedrunNet, images: torch.Tensor) -> None:
    """Set the stem of ``model`` to whitening filters computed from ``images`` and freeze them."""
    conv = model.stem[0]
    conv.weight.data.copy_(whitening_filters(images).to(conv.weight.device))
    conv.weight.requires_grad_(False)


def _dirac_init(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3) and m.out_channels >= m.in_channels:
            nn.init.dirac_(m.weight.data[:m.in_channels])   # the first in_channels filters pass x through


def _freeze_bn_scales(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.weight.requires_grad_(False)
            m.bias.scaled_lr = True  # read by the optimizer factory
            m.momentum, m.eps = 0.4, 1e-12


@dataclass(eq=False)
class ScheduledLookahead(Lookahead):
    """Lookahead whose slow-weight step ``alpha`` shrinks as training ends:
    ``alpha = 1 - (1 - alpha_end) * progress**3`` (early on the slow weights follow the fast ones;
    at the end they average roughly the last ``k/alpha_end`` steps). Buffers (BatchNorm statistics)
    are averaged too."""

    alpha_end: float = 0.23

    def on_start(self, state) -> None:
        if self.slow is None:
            self.slow = [t.detach().clone() for t in self._tensors(state.model)]

    @staticmethod
    def _tensors(model: nn.Module) -> list:
        return [t for t in list(model.parameters()) + list(model.buffers()) if t.is_floating_point()]

    def after_step(self, state) -> None:
        if state.counters.step % self.k == 0:
            a = 1 - (1 - self.alpha_end) * state.progress ** 3
            with torch.no_grad():
                for s, f in zip(self.slow, self._tensors(state.model)):
                    s.lerp_(f.detach(), a)
                    f.copy_(s)


@dataclass(eq=False)
class FreezeParams(Technique):
    """Stop training the parameters tagged ``attr`` once ``epochs`` epochs have passed
    (airbench trains the whitening bias for the first 3 epochs only)."""

    attr: str = "freeze_later"
    epochs: float = 3.0

    def after_step(self, state) -> None:
        if state.counters.epoch >= self.epochs:
            for p in state.model.parameters():
                if getattr(p, self.attr, False) and p.requires_grad:
                    p.requires_grad_(False)
                    p.grad = None


def _translate(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Shift images by (dy, dx) pixels with reflect padding."""
    p = max(abs(dy), abs(dx))
    xp = nn.functional.pad(x, (p, p, p, p), mode="reflect")
    h, w = x.shape[-2:]
    return xp[..., p - dy:p - dy + h, p - dx:p - dx + w]


@torch.no_grad()
def tta_logits(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Average logits over 6 views: the image and its mirror, each unshifted (weight 1/2) and
    shifted by (+1, +1) and (-1, -1) pixels (weight 1/4 each)."""
    def both(z: torch.Tensor) -> torch.Tensor:
        return 0.5 * (model(z).float() + model(z.flip(-1)).float())
    return 0.5 * both(x) + 0.25 * both(_translate(x, 1, 1)) + 0.25 * both(_translate(x, -1, -1))


@torch.no_grad()
def evaluate_tta(model: nn.Module, x: torch.Tensor, y: torch.Tensor, tta: bool = True,
                 batch_size: int = 1000) -> dict:
    """Accuracy on uint8 images with (``tta=True``) or without test-time augmentation; both are
    returned when ``tta`` is on (``accuracy`` is the TTA one, ``accuracy_plain`` the single view)."""
    was = model.training
    model.eval()
    dev = next(model.parameters()).device
    hits_tta = hits = 0
    for i in range(0, len(x), batch_size):
        xb, yb = normalize(x[i:i + batch_size].to(dev)), y[i:i + batch_size].to(dev)
        hits += (model(xb).argmax(1) == yb).sum().item()
        if tta:
            hits_tta += (tta_logits(model, xb).argmax(1) == yb).sum().item()
    model.train(was)
    out = {"accuracy_plain": hits / len(x)}
    out["accuracy"] = hits_tta / len(x) if tta else out["accuracy_plain"]
    return out


def _speedrun_optimizer(lr: float, bias_scale: float, momentum: float, nesterov: bool, decay: float):
    """SGD with two groups: BatchNorm shifts (``bias_scale`` x LR) and the rest. ``decay`` is the
    per-step decoupled weight-decay fraction at peak LR (PyTorch multiplies weight_decay by lr)."""
    def factory(params: Iterable[nn.Parameter]) -> torch.optim.Optimizer:
        params = [p for p in params if p.requires_grad]
        scaled = [p for p in params if getattr(p, "scaled_lr", False)]
        rest = [p for p in params if not getattr(p, "scaled_lr", False)]
        groups = [dict(params=rest, lr=lr, weight_decay=decay / lr)]
        if scaled:
            groups.append(dict(params=scaled, lr=lr * bias_scale, weight_decay=decay / (lr * bias_scale)))
        return torch.optim.SGD(groups, momentum=momentum, nesterov=nesterov)
    return factory


def cifar_speedrun(data: ImageData, epochs: float = 9.9, batch_size: int = 1024,
                   widths: Sequence[int] = (64, 256, 256), without: Sequence[str] = (), seed: int = 0,
                   device: Optional[torch.device | str] = None, n_train: Optional[int] = None,
                   n_eval: Optional[int] = None, lr: Optional[float] = None, label_smoothing: float = 0.2) -> Recipe:
    """The speedrun recipe; ``without`` names ingredients (see :data:`INGREDIENTS`) to switch off.

    ``lr`` is the peak LR for the mean loss; by default ``1.5 * batch_size / 1024`` (airbench's 11.5
    per 1024 summed examples divided by ``1 + 1/(1 - momentum)``, scaled linearly with the batch). ``n_train``/``n_eval`` take prefixes of the (class-mixed) data
    for short runs.
    """
    unknown = set(without) - set(INGREDIENTS)
    if unknown:
        raise ValueError(f"unknown ingredients {sorted(unknown)}; choose from {list(INGREDIENTS)}.")
    on = {k: k not in without for k in INGREDIENTS}
    tx, ty = data.train_x, data.train_y
    if n_train is not None:
        tx, ty = tx[:n_train], ty[:n_train]
    ex, ey = (data.test_x, data.test_y) if n_eval is None else (data.test_x[:n_eval], data.test_y[:n_eval])
    batch_size = min(batch_size, len(tx))
    lr = 1.5 * batch_size / 1024 if lr is None else lr
    loader = ImageLoader(tx, ty, batch_size, crop_pad=2 if on["augment"] else 0, flip=on["augment"],
                         seed=seed, device=device)
    whiten_sample = normalize(tx[:5000].to(loader.x.device))

    def model() -> nn.Module:
        net = SpeedrunNet(widths, whiten=on["whiten"])
        if on["dirac"]:
            _dirac_init(net)
        if on["whiten"]:
            init_whitening(net, whiten_sample)
            net.stem[0].bias.freeze_later = True
        if on["bn_frozen"]:
            _freeze_bn_scales(net)
        return net

    momentum = 0.85
    decay = 0.0153 * batch_size / (1024 * (1 + 1 / (1 - 0.85)))   # airbench's decay per step
    techniques: list = []
    if on["smoothing"]:
        techniques.append(LabelSmoothing(label_smoothing, 10))
    if on["lookahead"]:
        techniques.append(ScheduledLookahead(k=5, alpha=1.0))
    if on["channels_last"]:
        techniques.append(ChannelsLast())
    if on["whiten"]:
        techniques.append(FreezeParams("freeze_later", 3.0 * epochs / 9.9))
    schedule = triangular(0.23, 0.2, 0.07) if on["onecycle"] else None
    train_kwargs = {}
    if on["bf16"] and native_bf16(loader.x.device):  # only where bf16 is fast: emulated bf16 is slower
        train_kwargs["autocast"] = autocast("bf16", loader.x.device)
    name = "speedrun" + (f" without {', '.join(without)}" if without else "")
    return Recipe(name, model, loader,
                  _speedrun_optimizer(lr, 64.0 if on["bn_frozen"] else 1.0,
                                      momentum, on["nesterov"], decay),
                  schedule, Budget(epochs, "epochs"), lambda m: evaluate_tta(m, ex, ey, tta=on["tta"]),
                  "accuracy", techniques=techniques, train_kwargs=train_kwargs)
