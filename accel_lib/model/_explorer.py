"""Explorer for the basic-modules page: attention activation memory against sequence length.

A thin layer over :func:`accel_lib.model.attention.attention_saved_bytes_model` (whose predictions
``tests/model/test_attention.py`` checks against measured saved-tensor bytes): a static matplotlib
figure for the website and an ipywidgets version for readers running the notebook.
"""
from __future__ import annotations

from typing import Optional, Sequence

from .attention import attention_saved_bytes_model

__all__ = ["attention_memory_table", "plot_attention_memory", "attention_memory_widget"]


def attention_memory_table(seq_lens: Sequence[int], batch: int = 8, heads: int = 12, head_dim: int = 64,
                           causal: bool = True, impls: Sequence[str] = ("naive", "tiled")) -> dict:
    """{impl: [bytes saved for backward per attention layer at each T]} from the tested model."""
    return {i: [attention_saved_bytes_model(t, i, batch, heads, head_dim, causal) for t in seq_lens] for i in impls}


def plot_attention_memory(seq_lens: Sequence[int], batch: int = 8, heads: int = 12, head_dim: int = 64,
                          causal: bool = True, measured: Optional[dict] = None, ax=None):
    """Log-log plot of predicted bytes per layer; ``measured`` ({impl: {T: bytes}}) adds points."""
    import matplotlib.pyplot as plt
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    table = attention_memory_table(seq_lens, batch, heads, head_dim, causal, ("naive", "tiled"))
    for impl, label in (("naive", "naive: P is T x T per head"), ("tiled", "tiled / SDPA: O and log-sum-exp")):
        ax.plot(seq_lens, [b / 2 ** 20 for b in table[impl]], label=label)
    for impl, pts in (measured or {}).items():
        ts = sorted(pts)
        ax.plot(ts, [pts[t] / 2 ** 20 for t in ts], "o", ms=4, label=f"measured {impl}")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("sequence length T")
    ax.set_ylabel("MiB saved per attention layer")
    ax.set_title(f"batch {batch}, {heads} heads, head dim {head_dim}, fp32")
    ax.legend(fontsize=8)
    return ax


def attention_memory_widget():
    """Sliders for batch, heads, head dim and the longest T; redraws :func:`plot_attention_memory`."""
    import ipywidgets as w
    import matplotlib.pyplot as plt

    def show(batch: int, heads: int, head_dim: int, log2_max_t: int) -> None:
        ts = [2 ** k for k in range(6, log2_max_t + 1)]
        plot_attention_memory(ts, batch, heads, head_dim)
        t = ts[-1]
        n, f = (attention_saved_bytes_model(t, i, batch, heads, head_dim, True) for i in ("naive", "tiled"))
        plt.show()
        print(f"T={t}: naive {n / 2 ** 20:,.1f} MiB, tiled {f / 2 ** 20:,.1f} MiB per layer ({n / f:,.0f}x)")

    return w.interact(show, batch=w.IntSlider(8, 1, 64), heads=w.IntSlider(12, 1, 32),
                      head_dim=w.IntSlider(64, 16, 256, 16), log2_max_t=w.IntSlider(14, 8, 17))
