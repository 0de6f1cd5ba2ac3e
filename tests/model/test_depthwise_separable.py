import pytest
import torch

from accel_lib.core import FastCNN, count_flops
from accel_lib.model.depthwise_separable import (DepthwiseSeparable, DepthwiseSeparableConv2d, conv_flops_ratio,
                                                 make_separable, separable_to_dense)
from tests.model.helpers import train_cnn


def test_equals_dense_conv_with_factorised_kernel():
    torch.manual_seed(0)
    sep = DepthwiseSeparableConv2d(6, 10, 3, stride=2, padding=1, bias=True)
    torch.nn.init.normal_(sep.pointwise.bias)
    dense = separable_to_dense(sep)
    x = torch.randn(2, 6, 9, 9)
    assert torch.allclose(sep(x), dense(x), atol=1e-5)


def test_flops_ratio_closed_form_and_counted():
    c_in, c_out, k = 32, 64, 3
    sep = DepthwiseSeparableConv2d(c_in, c_out, k)
    dense = torch.nn.Conv2d(c_in, c_out, k, padding=1, bias=False)
    x = torch.randn(1, c_in, 8, 8)
    r = count_flops(lambda: sep(x)) / count_flops(lambda: dense(x))
    assert r == pytest.approx(conv_flops_ratio(c_in, c_out, k)) == pytest.approx(1 / 64 + 1 / 9)
    assert sum(p.numel() for p in sep.parameters()) / dense.weight.numel() == pytest.approx(r)


def test_make_separable_on_fastcnn():
    m = FastCNN((16, 32, 32))
    n = make_separable(m, min_channels=16)
    assert n == 6 and isinstance(m.stem[0], torch.nn.Conv2d)     # the RGB stem stays dense
    assert m(torch.randn(2, 3, 16, 16)).shape == (2, 10)
    st = train_cnn([DepthwiseSeparable(min_channels=8)])
    assert torch.isfinite(st.loss)


def test_bad_arguments():
    with pytest.raises(ValueError, match="no Conv2d"):
        DepthwiseSeparable(min_channels=10_000).setup_model(FastCNN(), None)
    with pytest.raises(ValueError, match="positive"):
        conv_flops_ratio(0, 3, 3)
