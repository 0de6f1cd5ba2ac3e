"""Model-centric techniques: fast basic modules, compression training, initialization, model curriculum.

Each module is one technique (its docstring is the card); ``CATALOG`` lists them in book order.
"""
from ..core.registry import CatalogEntry
from ._explorer import attention_memory_table, attention_memory_widget, plot_attention_memory  # noqa: F401

_B = "book/model/basic_modules.ipynb"
_C = "book/model/compression.ipynb"
_I = "book/model/initialization.ipynb"
_K = "book/model/curriculum.ipynb"


def _make(module: str, cls: str, **kw):
    def make():
        import importlib
        return getattr(importlib.import_module(f"accel_lib.model.{module}"), cls)(**kw)
    return make


_BASIC, _COMP, _INIT, _CURR = ("acceleration of basic modules", "compression training",
                               "model initialization", "model-centric curriculum learning")

CATALOG: list = [
    CatalogEntry("Tiled (flash) attention", "model", _BASIC, "accel_lib.model.attention",
                 "activation memory O(T^2) -> O(T)", "torch.nn.functional.scaled_dot_product_attention", _B),
    CatalogEntry("Linear attention", "model", _BASIC, "accel_lib.model.linear_attention",
                 "attention FLOPs and memory at long T", "none", _B),
    CatalogEntry("Sparse Mixture-of-Experts", "model", _BASIC, "accel_lib.model.moe",
                 "FLOPs per token at equal parameters", "none", _B),
    CatalogEntry("Depthwise-separable convolution", "model", _BASIC, "accel_lib.model.depthwise_separable",
                 "conv FLOPs and parameters", "torch.nn.Conv2d(groups=C_in)", _B,
                 make=_make("depthwise_separable", "DepthwiseSeparable", min_channels=8)),
    CatalogEntry("channels_last", "model", _BASIC, "accel_lib.model.channels_last",
                 "convolution throughput (device-dependent)", "Tensor.contiguous(memory_format=torch.channels_last)", _B,
                 make=_make("channels_last", "ChannelsLast")),
    CatalogEntry("Gradual magnitude pruning", "model", _COMP, "accel_lib.model.magnitude_pruning",
                 "model bytes and (sparse-kernel) FLOPs", "torch.nn.utils.prune.l1_unstructured", _C,
                 make=_make("magnitude_pruning", "GradualMagnitudePruning", start=0.0, end=1.0, update_every=0.1)),
    CatalogEntry("RigL dynamic sparse training", "model", _COMP, "accel_lib.model.rigl",
                 "training FLOPs at fixed sparsity", "none", _C,
                 make=_make("rigl", "RigL", update_every=0.4, end=1.0)),
    CatalogEntry("Low-rank factorised layers", "model", _COMP, "accel_lib.model.low_rank",
                 "parameters and FLOPs of Linear layers", "torch.linalg.svd", _C,
                 make=_make("low_rank", "LowRank", min_features=8)),
    CatalogEntry("LoRA adapters", "model", _COMP, "accel_lib.model.lora",
                 "fine-tuning memory (trainable parameters)", "none (PEFT)", _C,
                 make=_make("lora", "LoRA", rank=2, targets=("head",))),
    CatalogEntry("Quantisation-aware training", "model", _COMP, "accel_lib.model.qat",
                 "int8 model bytes", "torch.fake_quantize_per_channel_affine", _C,
                 make=_make("qat", "QuantizationAwareTraining")),
    CatalogEntry("8-bit optimizer state", "model", _COMP, "accel_lib.model.quantized_optimizer",
                 "optimizer memory", "torch.optim.Adam (bitsandbytes Adam8bit)", _C),
    CatalogEntry("Zero-init residual branches", "model", _INIT, "accel_lib.model.residual_init",
                 "stability and time-to-accuracy without normalisation",
                 "torchvision resnet(zero_init_residual=True)", _I),
    CatalogEntry("Net2Net growth (warm start)", "model", _INIT, "accel_lib.model.net2net",
                 "time-to-target of the large model", "none", _I),
    CatalogEntry("Stochastic depth / progressive layer dropping", "model", _CURR, "accel_lib.model.stochastic_depth",
                 "time per step (skipped blocks)", "torchvision.ops.stochastic_depth", _K),
    CatalogEntry("FreezeOut progressive freezing", "model", _CURR, "accel_lib.model.freezeout",
                 "backward FLOPs", "none", _K, make=_make("freezeout", "FreezeOut", t0=0.3)),
    CatalogEntry("Progressive stacking", "model", _CURR, "accel_lib.model.progressive_stacking",
                 "time-to-target of a deep transformer", "none", _K),
]
