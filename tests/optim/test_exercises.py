"""The exercise checkers accept the library's own functions and reject a wrong answer."""
import math

import pytest
import torch

from accel_lib.exercises import optim as ex
from accel_lib.optim import schedules as S
from accel_lib.optim.lars import lars_trust_ratio
from accel_lib.optim.noise_scale import noise_scale_estimates


def test_checkers_accept_correct_answers():
    assert ex.check_warmup_cosine(lambda p, w, f: (S.warmup_cosine(w, f) if w > 0 else S.cosine(f))(p))
    assert ex.check_one_cycle(S.one_cycle(0.3, 25, 1e4))
    assert ex.check_lars_trust_ratio(lambda w, g, eta, wd: lars_trust_ratio(w, g, eta, wd))
    assert ex.check_noise_scale(lambda a, b, bs, bb: (lambda g2, s: s / g2)(*noise_scale_estimates(a, b, bs, bb)))
    assert ex.check_ema_update(lambda a, n, d: d * a + (1 - d) * n)
    assert ex.check_lookahead_sync(lambda s, f, a: (s + a * (f - s), s + a * (f - s)))
    assert ex.check_sam_perturbation(lambda gs, rho: [g * rho / torch.sqrt(sum((h ** 2).sum() for h in gs)) for g in gs])


def test_checkers_reject_wrong_answers():
    with pytest.raises(AssertionError, match="hint"):
        ex.check_warmup_cosine(lambda p, w, f: S.cosine(f)(p))
    with pytest.raises(AssertionError, match="hint"):
        ex.check_sam_perturbation(lambda gs, rho: [g * rho / g.norm() for g in gs])
    with pytest.raises(AssertionError, match="hint"):
        ex.check_ema_update(lambda a, n, d: (1 - d) * a + d * n)
    with pytest.raises(AssertionError):
        ex.check_noise_scale(lambda a, b, bs, bb: a / b)
