import pytest
import torch

from accel_lib.core import GPT, FastCNN, GPTConfig, count_flops, count_params, resnet18_cifar


def test_fastcnn_shapes_and_widths():
    m = FastCNN()
    assert m(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    big = FastCNN((64, 256, 256))
    f_small = count_flops(lambda: m(torch.randn(1, 3, 32, 32)))
    f_big = count_flops(lambda: big(torch.randn(1, 3, 32, 32)))
    assert f_big > 5 * f_small
    with pytest.raises(ValueError, match="three positive"):
        FastCNN((8, 8))


def test_resnet18_cifar():
    m = resnet18_cifar()
    assert m(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert 11_000_000 < count_params(m) < 11_300_000


def test_gpt_causal_and_tied():
    cfg = GPTConfig(vocab_size=20, block_size=16, n_layer=2, n_head=2, n_embd=32)
    m = GPT(cfg).eval()
    idx = torch.randint(0, 20, (2, 16))
    out = m(idx)
    assert out.shape == (2, 16, 20)
    idx2 = idx.clone()
    idx2[:, 10:] = (idx2[:, 10:] + 1) % 20  # change the future: past logits must not move
    torch.testing.assert_close(m(idx2)[:, :10], out[:, :10])
    assert m.head.weight is m.tok.weight
    g = m.generate(idx[:, :4], 5, generator=torch.Generator().manual_seed(0))
    assert g.shape == (2, 9)
    with pytest.raises(ValueError, match="exceeds block_size"):
        m(torch.zeros(1, 17, dtype=torch.long))
    with pytest.raises(ValueError, match="divisible"):
        GPTConfig(n_embd=30, n_head=4)
