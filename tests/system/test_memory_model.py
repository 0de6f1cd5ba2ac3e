"""The memory model predicts measured bytes within 10% for the reference models."""
import pytest
import torch

from accel_lib.core import GPT, FastCNN, GPTConfig, count_params, resnet18_cifar
from accel_lib.system.memory_model import (fit_activation_model, measure_memory, predict_memory,
                                           prepare_model)


def _cases():
    img = lambda b: torch.randn(b, 3, 32, 32)  # noqa: E731
    tok = lambda b: torch.randint(0, 65, (b, 64))  # noqa: E731
    return {
        "fastcnn": (lambda: FastCNN((16, 32, 64)), img, lambda b: torch.randint(0, 10, (b,))),
        "gpt": (lambda: GPT(GPTConfig(block_size=64, n_layer=2, n_head=2, n_embd=64)), tok,
                lambda b: torch.randint(0, 65, (b, 64))),
    }


@pytest.mark.parametrize("name", ["fastcnn", "gpt"])
@pytest.mark.parametrize("mode,optimizer", [("fp32", "adamw"), ("bf16_autocast", "momentum"),
                                            ("fp16_master", "adamw")])
def test_prediction_within_10_percent(name, mode, optimizer):
    make, make_x, make_y = _cases()[name]
    torch.manual_seed(0)
    model = prepare_model(make(), mode)
    act = fit_activation_model(model, make_x, mode)
    b = 8
    pred = predict_memory(count_params(model), b, mode, optimizer, act)
    torch.manual_seed(0)
    meas = measure_memory(prepare_model(make(), mode), make_x(b), make_y(b), mode, optimizer)
    for k in ("parameters", "gradients", "optimizer_state", "activations", "total"):
        assert abs(pred[k] - meas[k]) <= 0.10 * meas[k], (k, pred[k], meas[k])


@pytest.mark.slow
def test_prediction_within_10_percent_resnet18():
    torch.manual_seed(0)
    model = resnet18_cifar()
    act = fit_activation_model(model, lambda b: torch.randn(b, 3, 32, 32), "fp32")
    pred = predict_memory(count_params(model), 8, "fp32", "momentum", act)
    meas = measure_memory(resnet18_cifar(), torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,)), "fp32", "momentum")
    for k in pred:
        assert abs(pred[k] - meas[k]) <= 0.10 * meas[k], (k, pred[k], meas[k])


def test_closed_forms_and_errors():
    p = predict_memory(1000, 4, "fp16_master", "adamw")
    assert p == {"parameters": 2000, "gradients": 4000, "optimizer_state": 12000, "activations": 0, "total": 18000}
    assert predict_memory(1000, 4, "fp32", "sgd")["optimizer_state"] == 0
    with pytest.raises(ValueError, match="precision mode"):
        predict_memory(10, 1, "int4")
    with pytest.raises(ValueError, match="optimizer"):
        predict_memory(10, 1, "fp32", "lion")
