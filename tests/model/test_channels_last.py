import pytest
import torch

from accel_lib.core import Batch, FastCNN
from accel_lib.model.channels_last import ChannelsLast, is_channels_last, to_channels_last
from tests.model.helpers import train_cnn


def test_same_outputs_and_gradients_as_nchw():
    torch.manual_seed(0)
    a = FastCNN((8, 16, 16))
    b = to_channels_last(FastCNN((8, 16, 16)))
    b.load_state_dict(a.state_dict())
    x = torch.randn(4, 3, 16, 16)
    ya, yb = a(x), b(to_channels_last(x))
    assert torch.allclose(ya, yb, atol=1e-5)
    ya.square().sum().backward()
    yb.square().sum().backward()
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.allclose(pa.grad, pb.grad, atol=1e-4)
    assert is_channels_last(b.stem[0].weight)


def test_technique_converts_batches_and_trains():
    t = ChannelsLast()
    out = t.on_batch(Batch(torch.randn(2, 3, 4, 4), torch.zeros(2)), None)
    assert is_channels_last(out.x)
    assert torch.isfinite(train_cnn([t]).loss)
    with pytest.raises(ValueError, match="4-D"):
        to_channels_last(torch.randn(3, 4))
