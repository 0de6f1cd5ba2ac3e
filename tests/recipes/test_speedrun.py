"""The CIFAR-10 speedrun recipe: its parts do what they claim, and the recipe trains."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from accel_lib.core import run_recipe
from accel_lib.core.loaders import normalize
from accel_lib.recipes.speedrun import (INGREDIENTS, FreezeParams, ScheduledLookahead, SpeedrunNet, _translate,
                                        cifar_speedrun, evaluate_tta, tta_logits, whitening_filters)


def test_whitening_filters_whiten_patches():
    g = torch.Generator().manual_seed(0)
    mix = torch.randn(3, 3, generator=g)
    base = torch.randn(64, 3, 12, 12, generator=g)
    x = torch.einsum("ij,bjhw->bihw", mix, base)
    x = x + torch.nn.functional.avg_pool2d(x, 3, 1, 1)   # correlated neighbours and channels
    w = whitening_filters(x, eps=1e-9)
    assert w.shape == (24, 3, 2, 2)
    assert torch.allclose(w[12:], -w[:12])
    out = torch.nn.functional.conv2d(x.double(), w[:12].double())          # (B, 12, H-1, W-1)
    z = out.permute(0, 2, 3, 1).reshape(-1, 12)
    cov = torch.cov(z.T)
    assert torch.allclose(cov, torch.eye(12, dtype=cov.dtype), atol=1e-3)


def test_whitening_rejects_wrong_shape():
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        whitening_filters(torch.zeros(4, 1, 8, 8))


def test_net_shapes_and_stems():
    x = torch.randn(2, 3, 32, 32)
    assert SpeedrunNet((8, 16, 16)).eval()(x).shape == (2, 10)
    assert SpeedrunNet((8, 16, 16), whiten=False).eval()(x).shape == (2, 10)
    with pytest.raises(ValueError, match="three positive"):
        SpeedrunNet((8, 16))


def test_translate_shifts_pixels():
    x = torch.arange(2 * 3 * 6 * 6, dtype=torch.float32).view(2, 3, 6, 6)
    y = _translate(x, 1, 1)
    assert torch.equal(y[..., 1:, 1:], x[..., :-1, :-1])
    assert torch.equal(_translate(x, -1, -1)[..., :-1, :-1], x[..., 1:, 1:])


def test_tta_weights_sum_to_one_and_views_differ():
    torch.manual_seed(0)
    m = SpeedrunNet((8, 8, 8), whiten=False).eval()
    flat = torch.randn(2, 3, 1, 1).expand(2, 3, 32, 32).contiguous()  # every view of it is identical
    assert torch.allclose(tta_logits(m, flat), m(flat), atol=1e-6)
    x = torch.randn(2, 3, 32, 32)
    assert not torch.allclose(tta_logits(m, x), m(x), atol=1e-6)


def test_unknown_ingredient_is_refused(cifar10):
    with pytest.raises(ValueError, match="choose from"):
        cifar_speedrun(cifar10, without=("whitening",))


def test_optimizer_groups_and_frozen_parameters(cifar10):
    r = cifar_speedrun(cifar10, widths=(8, 16, 16), n_train=256, batch_size=128)
    net = r.model()
    assert not net.stem[0].weight.requires_grad          # whitening filters are frozen
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    assert all(not b.weight.requires_grad for b in bns)   # BN scales fixed at 1
    opt = r.optimizer(net.parameters())
    base, scaled = opt.param_groups
    assert scaled["lr"] == pytest.approx(64 * base["lr"])
    assert base["lr"] == pytest.approx(1.5 * 128 / 1024)  # linear scaling of the 1024-batch LR
    assert {id(p) for p in scaled["params"]} == {id(b.bias) for b in bns}
    # decoupled decay: the product lr * weight_decay is the same in both groups
    assert scaled["lr"] * scaled["weight_decay"] == pytest.approx(base["lr"] * base["weight_decay"])


def test_dirac_init_passes_the_input_through(cifar10):
    net = cifar_speedrun(cifar10, n_train=256, widths=(24, 32, 32)).model()
    conv = net.blocks[0][0]                                # 24 -> 24 channels: Dirac on all
    x = torch.randn(1, 24, 8, 8)
    assert torch.allclose(conv(x), x)


def test_everything_off_is_a_plain_fastcnn_run(cifar10):
    r = cifar_speedrun(cifar10, without=INGREDIENTS, widths=(8, 16, 16), n_train=256, batch_size=128)
    assert r.techniques == [] and r.lr_schedule is None
    net = r.model()
    assert all(p.requires_grad for p in net.parameters())
    assert len(r.optimizer(net.parameters()).param_groups) == 1


def test_freeze_params_after_epochs():
    lin = nn.Linear(2, 2)
    lin.bias.freeze_later = True
    t = FreezeParams("freeze_later", 1.0)

    class S:
        model = lin
        class counters:
            epoch = 0.5
    t.after_step(S)
    assert lin.bias.requires_grad
    S.counters.epoch = 1.0
    lin.bias.grad = torch.ones(2)
    t.after_step(S)
    assert not lin.bias.requires_grad and lin.bias.grad is None and lin.weight.requires_grad


def test_scheduled_lookahead_follows_early_and_averages_late():
    lin = nn.Linear(2, 1, bias=False)
    la = ScheduledLookahead(k=1, alpha=1.0, alpha_end=0.25)

    class S:
        model = lin
        progress = 0.0
        class counters:
            step = 1
    la.on_start(S)
    with torch.no_grad():
        lin.weight.fill_(1.0)
    la.after_step(S)                  # progress 0: alpha 1, slow jumps to fast
    assert torch.allclose(la.slow[0], torch.ones(1, 2))
    with torch.no_grad():
        lin.weight.fill_(3.0)
    S.progress = 1.0                  # alpha_end: slow moves a quarter of the way
    la.after_step(S)
    assert torch.allclose(lin.weight, torch.full((1, 2), 1.5))


def test_recipe_trains_and_reports_both_accuracies(cifar10):
    r = cifar_speedrun(cifar10, widths=(8, 16, 16), n_train=512, batch_size=128, epochs=1.0, n_eval=200)
    st = run_recipe(r, seed=0)
    e = st.evals[-1]
    assert st.counters.step == 4
    assert 0.0 <= e["accuracy"] <= 1.0 and 0.0 <= e["accuracy_plain"] <= 1.0
    # evaluation with TTA off reports the single view as the accuracy
    plain = evaluate_tta(st.model, cifar10.test_x[:200], cifar10.test_y[:200], tta=False)
    assert plain["accuracy"] == plain["accuracy_plain"] == pytest.approx(e["accuracy_plain"])


def test_whitening_stem_uses_the_training_images(cifar10):
    r = cifar_speedrun(cifar10, n_train=1024, widths=(8, 16, 16))
    net = r.model()
    expected = whitening_filters(normalize(cifar10.train_x[:1024]))
    assert torch.allclose(net.stem[0].weight, expected)


def test_bf16_is_on_exactly_where_the_hardware_multiplies_bf16(cifar10, monkeypatch):
    import accel_lib.system.mixed_precision as mp
    from accel_lib.system.mixed_precision import native_bf16
    monkeypatch.setattr(mp, "_cpu_flags", lambda: {"avx2", "fma"})
    assert not native_bf16("cpu") and not native_bf16("meta")
    assert "autocast" not in cifar_speedrun(cifar10, epochs=0.01, device="cpu", n_train=512, n_eval=64).train_kwargs
    monkeypatch.setattr(mp, "_cpu_flags", lambda: {"avx2", "avx512f", "avx512_bf16"})
    assert native_bf16("cpu")
    ac = cifar_speedrun(cifar10, epochs=0.01, device="cpu", n_train=512, n_eval=64).train_kwargs["autocast"]
    assert ac.dtype == torch.bfloat16 and ac.device_type == "cpu"
    assert "autocast" not in cifar_speedrun(cifar10, epochs=0.01, device="cpu", n_train=512, n_eval=64, without=("bf16",)).train_kwargs
    monkeypatch.setattr(mp, "_cpu_flags", lambda: {"amx_bf16"})
    assert native_bf16("cpu")
