import pytest
import torch
from torchvision.transforms import v2

from accel_lib.core import Batch, normalize
from accel_lib.data import RandAugment, augment_each, make_policy


def _imgs(n=6):
    return torch.randint(0, 256, (n, 3, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("policy", ["randaugment", "trivialaugment"])
def test_each_image_matches_torchvision(policy):
    x = _imgs()
    seeds = list(range(100, 106))
    out = augment_each(x, make_policy(policy, 2, 9), seeds=seeds)
    for i, s in enumerate(seeds):
        torch.manual_seed(s)
        ref = (v2.RandAugment(2, 9) if policy == "randaugment" else v2.TrivialAugmentWide())(x[i])
        assert torch.equal(out[i], ref)
    assert out.dtype == torch.uint8


def test_draws_differ_per_image_unlike_a_batched_call():
    x = _imgs(1).expand(16, -1, -1, -1).contiguous()  # 16 copies of one image
    out = augment_each(x, make_policy("randaugment", 2, 9), torch.Generator().manual_seed(0))
    distinct = len({o.numpy().tobytes() for o in out})
    torch.manual_seed(0)
    batched = v2.RandAugment(2, 9)(x)  # the trap: one draw for the whole batch
    assert len({o.numpy().tobytes() for o in batched}) == 1
    assert distinct > 8


def test_global_rng_untouched_and_technique_roundtrip():
    torch.manual_seed(1)
    a = torch.rand(1)
    torch.manual_seed(1)
    augment_each(_imgs(), make_policy(), torch.Generator().manual_seed(0))
    assert torch.equal(torch.rand(1), a)
    x = normalize(_imgs())
    b = RandAugment(num_ops=0).on_batch(Batch(x, torch.zeros(6, dtype=torch.long)), None)
    assert torch.allclose(b.x, x, atol=1e-6)  # zero ops: un-normalise -> uint8 -> normalise is exact


def test_bad_input():
    with pytest.raises(TypeError, match="uint8"):
        augment_each(torch.rand(2, 3, 8, 8), make_policy())
    with pytest.raises(ValueError, match="unknown policy"):
        make_policy("autoaugment")
    with pytest.raises(ValueError, match="image batch"):
        augment_each(torch.zeros(8, 8, dtype=torch.uint8), make_policy())
