import pytest
import torch

from accel_lib.exercises import model as ex
from accel_lib.model.magnitude_pruning import magnitude_mask
from accel_lib.model.net2net import widen_linear_pair
from accel_lib.model.stochastic_depth import drop_path
from accel_lib.model import attention_memory_table


def _online(x, block):
    m = torch.full(x.shape[:-1], float("-inf"), dtype=x.dtype)
    s = torch.zeros(x.shape[:-1], dtype=x.dtype)
    for j in range(0, x.shape[-1], block):
        c = x[..., j:j + block]
        new = torch.maximum(m, c.amax(-1))
        s = s * torch.exp(m - new) + torch.exp(c - new[..., None]).sum(-1)
        m = new
    return m + torch.log(s)


def test_checkers_accept_correct_solutions():
    assert ex.check_online_logsumexp(_online)
    assert ex.check_magnitude_mask(magnitude_mask)
    assert ex.check_widen(lambda a, b, n: widen_linear_pair(a, b, n))
    assert ex.check_drop_path(lambda x, p: drop_path(x, p, True, "row"))


def test_checkers_reject_wrong_solutions():
    with pytest.raises(AssertionError):
        ex.check_online_logsumexp(lambda x, b: torch.log(torch.exp(x).sum(-1)))
    with pytest.raises(AssertionError):
        ex.check_magnitude_mask(lambda w, s: torch.ones_like(w))
    with pytest.raises(AssertionError):
        def no_rescale(a, b, n):
            n1, n2 = widen_linear_pair(a, b, n)
            n2.weight.data = torch.cat([b.weight, n2.weight[:, b.in_features:]], 1)
            return n1, n2
        ex.check_widen(no_rescale)
    with pytest.raises(AssertionError):
        ex.check_drop_path(lambda x, p: x)


def test_explorer_table():
    t = attention_memory_table([128, 256], batch=1, heads=1, head_dim=64, causal=False)
    assert t["naive"][1] == 4 * t["naive"][0] and t["tiled"][1] == 2 * t["tiled"][0]
