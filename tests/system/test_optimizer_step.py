"""The loop and foreach AdamW match torch.optim.AdamW (loop, foreach and fused)."""
import pytest
import torch
from torch import nn

from accel_lib.core import count_flops
from accel_lib.system.optimizer_step import ScratchAdamW


def _run(make_opt, steps=4):
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(8, 16), nn.GELU(), nn.Linear(16, 4))
    opt = make_opt(m.parameters())
    x = torch.randn(16, 8)
    for _ in range(steps):
        m(x).pow(2).mean().backward()
        opt.step()
        opt.zero_grad()
    return [p.detach().clone() for p in m.parameters()]


@pytest.mark.parametrize("impl", ["loop", "foreach"])
@pytest.mark.parametrize("torch_kw", [{"foreach": False}, {"foreach": True}, {"fused": True}])
def test_loop_and_foreach_match_torch(impl, torch_kw):
    kw = dict(lr=1e-2, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.1)
    ours = _run(lambda p: ScratchAdamW(p, impl=impl, **kw))
    ref = _run(lambda p: torch.optim.AdamW(p, **kw, **torch_kw))
    assert all(torch.allclose(a, b, atol=1e-6, rtol=1e-5) for a, b in zip(ours, ref))


def test_foreach_dispatches_fewer_operators():
    from accel_lib.system.compilation import eager_op_count
    m = nn.Sequential(*[nn.Linear(4, 4) for _ in range(10)])   # 20 parameter tensors
    for p in m.parameters():
        p.grad = torch.ones_like(p)
    counts = {}
    for impl in ("loop", "foreach"):
        opt = ScratchAdamW(m.parameters(), impl=impl)
        opt.step()                      # creates the state
        counts[impl] = eager_op_count(opt.step)
    assert counts["foreach"] * 5 < counts["loop"]


def test_bad_arguments():
    with pytest.raises(ValueError, match="impl"):
        ScratchAdamW([nn.Parameter(torch.ones(1))], impl="fused")
    with pytest.raises(ValueError, match="betas"):
        ScratchAdamW([nn.Parameter(torch.ones(1))], betas=(1.0, 0.9))
