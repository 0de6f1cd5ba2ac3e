import pytest
import torch

from accel_lib.model.lora import LoRA, LoRALinear, lora_parameter_count, merge_lora
from tests.model.helpers import tiny_gpt, train_gpt


def test_starts_at_base_function_and_merges_exactly():
    torch.manual_seed(0)
    base = torch.nn.Linear(12, 7)
    lo = LoRALinear(base, rank=3, alpha=6.0)
    x = torch.randn(4, 12)
    assert torch.equal(lo(x), base(x))                         # B = 0
    torch.nn.init.normal_(lo.lora_b)
    merged = lo.merged()
    assert isinstance(merged, torch.nn.Linear) and torch.allclose(merged(x), lo(x), atol=1e-5)
    ref = x @ base.weight.t() + base.bias + 2.0 * x @ lo.lora_a.t() @ lo.lora_b.t()   # alpha / r = 2
    assert torch.allclose(lo(x), ref, atol=1e-5)


def test_only_adapters_train():
    m = tiny_gpt()
    before = {n: p.detach().clone() for n, p in m.named_parameters()}
    st = train_gpt(m, [LoRA(rank=2, alpha=4.0)], steps=3)
    counts = lora_parameter_count(st.model)
    assert counts["trainable"] == 2 * 2 * ((16 + 48) + (16 + 16))   # 2 blocks x (qkv, proj) x r(d_in + d_out)
    for n, p in st.model.named_parameters():
        key = n.replace(".base", "")
        if "lora_" in n:
            assert p.requires_grad
        else:
            assert torch.equal(p, before[key]), n
    merge_lora(st.model)
    assert not any(isinstance(mm, LoRALinear) for mm in st.model.modules())


def test_bad_arguments():
    with pytest.raises(ValueError, match="rank"):
        LoRALinear(torch.nn.Linear(4, 3), rank=4)
    m = tiny_gpt()
    with pytest.raises(ValueError, match="targets="):
        LoRA(targets=("nothing",)).setup_model(m, None)
    assert all(p.requires_grad for p in m.parameters())       # left as it was
