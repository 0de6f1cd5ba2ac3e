"""Autocast factories: dtype checks, which layers run in low precision, bytes by dtype."""
import pytest
import torch
from torch import nn

from accel_lib.core import count_params, saved_activation_bytes
from accel_lib.system.mixed_precision import autocast, bytes_by_dtype, module_output_dtypes, resolve_dtype


def test_resolve_dtype_and_errors():
    assert resolve_dtype("bf16") is torch.bfloat16 and resolve_dtype(torch.float16) is torch.float16
    for bad in ("int8", torch.float64, "fp32", torch.float32):
        with pytest.raises(ValueError, match="bf16"):
            resolve_dtype(bad)
    with pytest.raises(ValueError, match="bf16"):
        autocast("int8", "cpu")        # torch.autocast would only warn and silently run fp32


def test_autocast_runs_linear_in_low_precision():
    m = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
    dts = module_output_dtypes(m, torch.randn(2, 8), autocast("bf16", "cpu"))
    assert dts["0"] == torch.bfloat16 and dts["2"] == torch.bfloat16
    assert module_output_dtypes(m, torch.randn(2, 8), autocast("bf16", "cpu", enabled=False))["0"] == torch.float32


def test_bytes_by_dtype_params_and_activations_halve():
    m = nn.Sequential(nn.Linear(64, 64), nn.GELU(), nn.Linear(64, 64))
    n = count_params(m)
    assert bytes_by_dtype(m.parameters()) == {"float32": 4 * n}
    assert bytes_by_dtype(m.to(torch.bfloat16).parameters()) == {"bfloat16": 2 * n}
    m = m.float()
    x = torch.randn(32, 64)
    fp32 = saved_activation_bytes(lambda: m(x))["activations"]
    ctx = autocast("bf16", "cpu")

    def fwd():
        with ctx():
            return m(x)
    bf16 = saved_activation_bytes(fwd)["activations"]
    # bf16 activations are half; autocast also saves bf16 copies of the weights (2 bytes each)
    weights = 2 * (64 * 64 * 2)
    assert bf16 - weights <= 0.5 * fp32 + 64 * 4 and bf16 < fp32
