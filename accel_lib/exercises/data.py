"""Checkers for the data-centric chapter's exercises (``book/data/*.ipynb``).

Each ``check_*`` runs a learner's function against the library on fresh random inputs and raises
``AssertionError`` with a hint when they disagree; it returns ``True`` otherwise.
"""
from __future__ import annotations

from typing import Callable

import torch

__all__ = ["check_mixup", "check_smooth_labels", "check_cutmix_lam", "check_importance_weights",
           "check_select_top_loss", "check_forgetting", "check_pacing", "check_image_size", "check_seq_len"]


def _close(a, b, what: str, atol: float = 1e-5) -> None:
    a = torch.as_tensor(a, dtype=torch.float64)
    b = torch.as_tensor(b, dtype=torch.float64)
    if a.shape != b.shape:
        raise AssertionError(f"{what}: shape {tuple(a.shape)} but expected {tuple(b.shape)}.")
    if not torch.allclose(a, b, atol=atol, rtol=1e-5, equal_nan=True):
        raise AssertionError(f"{what}: values differ (max abs difference {(a - b).abs().max().item():.3g}).")


def check_mixup(fn: Callable) -> bool:
    """``fn(x, y, lam, perm, num_classes) -> (x_mixed, y_soft)``."""
    from ..data.mixup import mixup_batch
    g = torch.Generator().manual_seed(11)
    for lam in (0.0, 0.3, 1.0):
        x, y = torch.randn(6, 3, 4, 4, generator=g), torch.randint(0, 5, (6,), generator=g)
        perm = torch.randperm(6, generator=g)
        got, ref = fn(x, y, lam, perm, 5), mixup_batch(x, y, lam, perm, 5)
        _close(got[0], ref[0], f"mixed images (lam={lam}); hint: lam weighs the example itself, 1-lam its partner")
        _close(got[1], ref[1], f"mixed labels (lam={lam}); hint: one-hot the labels before mixing")
    return True


def check_smooth_labels(fn: Callable) -> bool:
    """``fn(y, num_classes, eps) -> (B, K)`` probabilities."""
    from ..data.label_smoothing import smooth_labels
    y = torch.tensor([0, 3, 1, 2])
    for eps in (0.0, 0.1, 0.5):
        _close(fn(y, 4, eps), smooth_labels(y, 4, eps), f"smoothed labels (eps={eps}); hint: eps/K goes to every class")
    return True


def check_cutmix_lam(fn: Callable) -> bool:
    """``fn(h, w, box) -> lam``: the weight of the original label for a pasted box (x1, y1, x2, y2)."""
    for h, w, box in ((10, 10, (0, 0, 5, 4)), (32, 32, (8, 8, 24, 24)), (16, 20, (3, 0, 3, 16))):
        want = 1.0 - (box[2] - box[0]) * (box[3] - box[1]) / (h * w)
        _close(fn(h, w, box), want, f"lam for box {box} in {h}x{w}; hint: 1 - pasted area / image area")
    return True


def check_importance_weights(fn: Callable) -> bool:
    """``fn(scores, smoothing) -> (p, w)``: sampling probabilities and unbiased weights 1/(B p)."""
    from ..data.importance_sampling import importance_probabilities
    s = torch.tensor([0.5, 2.0, 0.1, 1.4, 3.0])
    for sm in (0.0, 0.2, 1.0):
        p, w = fn(s, sm)
        ref = importance_probabilities(s, sm)
        _close(p, ref, f"probabilities (smoothing={sm})")
        _close(w, 1.0 / (len(s) * ref), f"weights (smoothing={sm}); hint: E_p[w * loss] must equal the plain mean")
    return True


def check_select_top_loss(fn: Callable) -> bool:
    """``fn(losses, fraction) -> indices`` (any order) of the highest losses."""
    from ..data.selective_backprop import select_top_loss
    g = torch.Generator().manual_seed(3)
    for f in (0.1, 0.5, 1.0):
        losses = torch.rand(20, generator=g)
        got = sorted(torch.as_tensor(fn(losses, f)).tolist())
        want = select_top_loss(losses, f).tolist()
        if got != want:
            raise AssertionError(f"fraction={f}: got indices {got}, expected {want} "
                                 "(hint: keep max(1, round(fraction * B)) examples with the largest loss).")
    return True


def check_forgetting(fn: Callable) -> bool:
    """``fn(correct) -> events`` for a bool history (T, N)."""
    from ..data.data_pruning import forgetting_events
    g = torch.Generator().manual_seed(5)
    c = torch.rand(6, 12, generator=g) < 0.6
    c[:, 0] = False
    _close(fn(c), forgetting_events(c), "forgetting events; hint: count correct -> incorrect transitions, "
           "never-learned examples get inf")
    return True


def check_pacing(fn: Callable, kind: str = "root") -> bool:
    """``fn(progress, start, saturate) -> fraction`` for the library's pacing ``kind``."""
    from ..data.curriculum import pacing
    for p in (0.0, 0.1, 0.35, 0.8, 1.0):
        _close(fn(p, 0.2, 0.8), pacing(p, kind, 0.2, 0.8), f"{kind} pacing at progress {p}")
    return True


def check_image_size(fn: Callable) -> bool:
    """``fn(progress, full, min_scale, ramp_end, multiple) -> side length``."""
    from ..data.progressive_resizing import image_size
    for p in (0.0, 0.2, 0.5, 0.74, 0.9, 1.0):
        got, want = int(fn(p, 32, 0.5, 0.75, 4)), image_size(p, 32, 0.5, 0.75, 4)
        if got != want:
            raise AssertionError(f"progress {p}: size {got}, expected {want} (hint: round down to the multiple).")
    return True


def check_seq_len(fn: Callable) -> bool:
    """``fn(progress, full, start, warmup, multiple) -> length``."""
    from ..data.seq_len_warmup import seq_len
    for p in (0.0, 0.05, 0.2, 0.3, 0.9):
        got, want = int(fn(p, 128, 8, 0.3, 8)), seq_len(p, 128, 8, 0.3, 8)
        if got != want:
            raise AssertionError(f"progress {p}: length {got}, expected {want}.")
    return True
