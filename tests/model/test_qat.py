import pytest
import torch

from accel_lib.model.qat import (QuantWrapper, QuantizationAwareTraining, affine_qparams, fake_quantize,
                                 int8_weight_bytes, symmetric_scale)
from tests.model.helpers import train_cnn


def test_fake_quant_matches_torch():
    torch.manual_seed(0)
    x = (torch.randn(64) * 3).requires_grad_(True)
    ours = fake_quantize(x, 0.05, 3, bits=8, signed=True)
    ref_x = x.detach().clone().requires_grad_(True)
    ref = torch.fake_quantize_per_tensor_affine(ref_x, 0.05, 3, -128, 127)
    assert torch.equal(ours, ref)
    g = torch.randn(64)
    ours.backward(g)
    ref.backward(g)
    assert torch.equal(x.grad, ref_x.grad)                   # straight-through inside, 0 where clipped
    assert (x.grad == 0).any() and (x.grad != 0).any()


def test_per_channel_matches_torch():
    torch.manual_seed(0)
    w = torch.randn(6, 4, 3, 3)
    s = symmetric_scale(w, 8, 0)
    ref = torch.fake_quantize_per_channel_affine(w, s.flatten(), torch.zeros(6, dtype=torch.int32), 0, -128, 127)
    assert torch.equal(fake_quantize(w, s, 0, 8), ref)
    assert (fake_quantize(w, s, 0, 8) - w).abs().max() <= s.max() / 2 + 1e-7


def test_affine_qparams_cover_range_and_zero():
    s, z = affine_qparams(torch.tensor(-1.0), torch.tensor(3.0), 8)
    assert s.item() == pytest.approx(4 / 255)
    x = torch.tensor([0.0])
    assert fake_quantize(x, s, z, 8, signed=False).item() == 0.0   # zero is exactly representable


def test_wrapper_bytes_and_training():
    st = train_cnn([QuantizationAwareTraining(bits=8)], steps=3)
    assert torch.isfinite(st.loss)
    wrappers = [m for m in st.model.modules() if isinstance(m, QuantWrapper)]
    assert len(wrappers) == 7 and all(bool(w.initialised) for w in wrappers)
    b = int8_weight_bytes(st.model)
    assert 0.25 < b["ratio"] < 0.27


def test_bad_arguments():
    with pytest.raises(ValueError, match="bits"):
        fake_quantize(torch.ones(2), 1.0, bits=1)
    with pytest.raises(ValueError, match="positive"):
        fake_quantize(torch.ones(2), 0.0)
    with pytest.raises(TypeError, match="Conv2d or nn.Linear"):
        QuantWrapper(torch.nn.ReLU())
