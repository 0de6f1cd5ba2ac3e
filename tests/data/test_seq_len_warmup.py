import pytest
import torch

from accel_lib.core import GPT, Batch, Budget, CharLoader, GPTConfig, count_flops, train
from accel_lib.data import SeqLenWarmup, seq_len, truncate_batch

from tests.data._helpers import fake_state


def test_schedule():
    ls = [seq_len(p / 10, 128, 8, 0.5, 8) for p in range(11)]
    assert ls[0] == 8 and ls[5:] == [128] * 6
    assert all(a <= b for a, b in zip(ls, ls[1:])) and all(v % 8 == 0 for v in ls)


def test_truncation_is_slicing():
    x, y = torch.arange(20).view(2, 10), torch.arange(1, 21).view(2, 10)
    xt, yt = truncate_batch(x, y, 4)
    assert torch.equal(xt, x[:, :4]) and torch.equal(yt, y[:, :4])


def test_claim_flops_about_linear_in_length():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=65, block_size=128, n_layer=2, n_head=4, n_embd=128)).eval()
    full = count_flops(lambda: model(torch.zeros(2, 128, dtype=torch.long)))
    for t in (16, 32, 64):
        r = count_flops(lambda: model(torch.zeros(2, t, dtype=torch.long))) / full
        assert 0.8 * t / 128 <= r <= t / 128 + 1e-9   # linear layers ~ T, attention ~ T^2


def test_technique_trains_and_counts_tokens():
    torch.manual_seed(0)
    data = torch.randint(0, 65, (5000,))
    model = GPT(GPTConfig(vocab_size=65, block_size=32, n_layer=1, n_head=2, n_embd=32))
    w = SeqLenWarmup(start=8, warmup=0.5, multiple=8)
    st = train(model, CharLoader(data, 32, 4), budget=Budget(4), techniques=[w], device="cpu",
               optimizer=lambda p: torch.optim.AdamW(p, lr=1e-3))
    assert st.extras["tokens"] < 4 * 4 * 32 and st.extras["seq_len"] == 32
    b = w.on_batch(Batch(torch.zeros(2, 32, dtype=torch.long), torch.zeros(2, 32, dtype=torch.long)),
                   fake_state(progress=0.0))
    assert b.x.shape == (2, 8)


def test_bad_input():
    with pytest.raises(ValueError, match="warmup must be in"):
        seq_len(0.1, 128, 8, 0.0)
    with pytest.raises(ValueError, match="start <= full"):
        seq_len(0.1, 16, 32)
    with pytest.raises(ValueError, match="token batches"):
        SeqLenWarmup().on_batch(Batch(torch.zeros(1, 3, 4, 4), torch.zeros(1, dtype=torch.long)), fake_state())
    with pytest.raises(ValueError, match="same shape"):
        truncate_batch(torch.zeros(2, 4), torch.zeros(2, 5), 2)
