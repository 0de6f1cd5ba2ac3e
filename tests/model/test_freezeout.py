import pytest
import torch

from accel_lib.core import FastCNN, count_train_flops
from accel_lib.model.freezeout import FreezeOut, freeze_times, freeze_units
from tests.model.helpers import tiny_gpt, tiny_images, train_cnn


def test_freeze_times():
    assert freeze_times(5, 0.5, cubic=False) == pytest.approx([0.5, 0.625, 0.75, 0.875, 1.0])
    c = freeze_times(5, 0.5, cubic=True)
    assert c[0] == 0.5 and c[-1] == 1.0 and all(a <= b for a, b in zip(c, c[1:]))
    assert c[1] < 0.625


def test_units_in_forward_order():
    assert [type(u).__name__ for u in freeze_units(FastCNN())] == ["Sequential", "ConvBlock", "ConvBlock",
                                                                  "ConvBlock", "Linear"]
    assert len(freeze_units(tiny_gpt(n_layer=3))) == 2 + 3 + 2      # tok, pos, 3 blocks, ln_f, head


def test_backward_flops_saved():
    from accel_lib.core import count_flops
    torch.manual_seed(0)
    m = FastCNN((8, 16, 32))
    x = torch.randn(4, 3, 16, 16)
    y = torch.zeros(4, dtype=torch.long)
    full = count_train_flops(m, x, y)
    units = freeze_units(m)
    h = units[0](x)
    g = units[1](h)
    stem_fwd, blk_fwd = count_flops(lambda: units[0](x)), count_flops(lambda: units[1](h))
    next_conv = count_flops(lambda: units[2][0](g))
    for u in units[:2]:
        for p in u.parameters():
            p.requires_grad_(False)
    part = count_train_flops(m, x, y)
    # saved: the stem's weight gradient (its input needs none anyway), the first block's weight and
    # input gradients, and the input gradient of the next unit's first conv (nothing below needs it);
    # each costs its forward FLOPs
    assert full - part == stem_fwd + 2 * blk_fwd + next_conv


def test_training_freezes_and_frozen_weights_do_not_move():
    x, y = tiny_images()
    t = FreezeOut(t0=0.2, cubic=False)
    st = train_cnn([t], steps=6)
    assert t.frozen == 4
    assert not any(p.requires_grad for p in st.model.stem.parameters())
    assert all(p.requires_grad for p in st.model.head.parameters())


def test_tied_head_is_never_frozen_in_gpt():
    from tests.model.helpers import train_gpt
    st = train_gpt(tiny_gpt(n_layer=2), [FreezeOut(t0=0.1, cubic=False)], steps=6)
    assert st.model.tok.weight.requires_grad and not st.model.pos.weight.requires_grad


def test_bad_arguments():
    with pytest.raises(ValueError, match="t0"):
        freeze_times(3, 0.0)
    with pytest.raises(ValueError, match="two parameterised"):
        FreezeOut().setup_model(torch.nn.Linear(2, 2), None)
