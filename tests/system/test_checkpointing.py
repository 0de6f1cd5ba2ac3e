"""Activation checkpointing: exact gradients, fewer saved bytes, side effects refused or handled."""
import copy

import pytest
import torch
from torch import nn

from accel_lib.core import GPT, Budget, FastCNN, GPTConfig, count_flops, saved_activation_bytes, train
from accel_lib.system.checkpointing import (ActivationCheckpointing, Checkpointed, apply_activation_checkpointing,
                                            apply_segment_checkpointing, checkpoint, segment_sizes,
                                            side_effect_modules, sqrt_rule)
from tests.conftest import tiny_images


def _mlp(depth=8, width=32):
    torch.manual_seed(0)
    return nn.Sequential(*[nn.Sequential(nn.Linear(width, width), nn.GELU()) for _ in range(depth)])


def _grads(model, x, fn=None):
    model.zero_grad(set_to_none=True)
    out = (fn or model)(x)
    out.pow(2).mean().backward()
    return [p.grad.clone() for p in model.parameters()]


@pytest.mark.parametrize("impl", ["scratch", "torch"])
def test_gradients_equal_to_no_checkpointing(impl):
    m = _mlp()
    x = torch.randn(4, 32)
    ref = _grads(m, x)
    ck = apply_activation_checkpointing(copy.deepcopy(m), every=1, impl=impl)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(ref, _grads(ck, x)))


def test_matches_torch_checkpoint():
    from torch.utils.checkpoint import checkpoint as torch_checkpoint
    m = _mlp(4)
    x = torch.randn(4, 32, requires_grad=True)
    ours = _grads(m, x, lambda v: checkpoint(m, v, module=m))
    gx_ours = x.grad.clone()
    x.grad = None
    ref = _grads(m, x, lambda v: torch_checkpoint(m, v, use_reentrant=False))
    assert all(torch.equal(a, b) for a, b in zip(ours, ref)) and torch.equal(gx_ours, x.grad)


def test_dropout_is_replayed_with_the_same_random_state():
    cfg = GPTConfig(vocab_size=17, block_size=16, n_layer=2, n_head=2, n_embd=16, dropout=0.3)
    torch.manual_seed(0)
    m = GPT(cfg)
    idx = torch.randint(0, 17, (2, 16))
    torch.manual_seed(1)
    ref = _grads(m, idx)
    ck = apply_activation_checkpointing(copy.deepcopy(m), every=1)
    torch.manual_seed(1)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(ref, _grads(ck, idx)))


def test_saved_bytes_shrink_with_every_k():
    x = torch.randn(16, 32)
    base = saved_activation_bytes(lambda: _mlp(8)(x))["activations"]
    got = {k: saved_activation_bytes(lambda: apply_activation_checkpointing(_mlp(8), every=k)(x))["activations"]
           for k in (1, 2, 4)}
    # each block saves its input (Linear) and the Linear output (GELU): 2 tensors; checkpointed: 1
    per = 16 * 32 * 4
    assert base == 8 * 2 * per
    assert got[1] == 8 * per and got[2] == (4 * 1 + 4 * 2) * per and got[4] == (2 * 1 + 6 * 2) * per
    assert got[1] <= base / 2


def test_recompute_costs_one_extra_forward_of_checkpointed_blocks():
    x = torch.randn(16, 32)
    def step(m):
        return lambda: m(x).sum().backward()
    plain = count_flops(step(_mlp(8)))
    fwd = count_flops(lambda: _mlp(8)(x))
    ck = count_flops(step(apply_activation_checkpointing(_mlp(8), every=1)))
    assert ck == plain + fwd


def test_segments_and_sqrt_rule():
    assert segment_sizes(10, 3) == [4, 3, 3] and sqrt_rule(16) == 4 and sqrt_rule(1) == 1
    m = _mlp(9)
    x = torch.randn(4, 32)
    ref = _grads(m, x)
    seg = apply_segment_checkpointing(m, 3)
    assert len(seg) == 3 and all(isinstance(s, Checkpointed) for s in seg)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(ref, _grads(seg, x)))
    # only segment inputs are saved: 3 tensors
    assert saved_activation_bytes(lambda: seg(x))["activations"] == 3 * 4 * 32 * 4
    with pytest.raises(ValueError, match="segments"):
        segment_sizes(3, 5)


def test_batchnorm_side_effects_refused_or_preserved():
    torch.manual_seed(0)
    block = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())
    x = torch.randn(2, 3, 8, 8)
    assert side_effect_modules(block) == ["1"]
    with pytest.raises(ValueError, match="preserve_buffers"):
        Checkpointed(copy.deepcopy(block))(x).sum().backward()
    with pytest.raises(ValueError, match="BatchNorm"):
        Checkpointed(copy.deepcopy(block), impl="torch")(x).sum().backward()
    ref = copy.deepcopy(block)
    ref(x).sum().backward()
    ck = Checkpointed(copy.deepcopy(block), preserve_buffers=True)
    ck(x).sum().backward()
    assert torch.equal(ck.module[1].running_mean, ref[1].running_mean)
    assert torch.equal(ck.module[1].running_var, ref[1].running_var)
    assert torch.allclose(ck.module[0].weight.grad, ref[0].weight.grad, atol=1e-6)


def test_technique_in_the_loop_on_fastcnn():
    x, y = tiny_images(16, 16)
    batches = [(x[:8].float() / 255, y[:8])]

    def run(techniques):
        torch.manual_seed(0)
        st = train(FastCNN((8, 8, 8)), batches, budget=Budget(2, "steps"), device="cpu", log_every=1,
                   optimizer=lambda p: torch.optim.SGD(p, lr=0.1), techniques=techniques)
        return st.model
    a, b = run([]), run([ActivationCheckpointing(every=1)])
    assert isinstance(b.blocks[0], Checkpointed)
    for (n, p), q in zip(a.named_parameters(), b.parameters()):
        assert torch.allclose(p, q, atol=1e-5), n
    for ra, rb in zip(a.buffers(), b.buffers()):
        assert torch.allclose(ra.float(), rb.float(), atol=1e-5)


def test_bad_arguments():
    with pytest.raises(ValueError, match="every"):
        apply_activation_checkpointing(_mlp(2), every=0)
    with pytest.raises(ValueError, match="blocks"):
        apply_activation_checkpointing(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="impl"):
        Checkpointed(nn.Linear(2, 2), impl="magic")
