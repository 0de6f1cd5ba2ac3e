import pytest
import torch
import torch.nn.functional as F

from accel_lib.core import Batch, default_loss
from accel_lib.data import LabelSmoothing, smooth_labels


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.5])
def test_matches_cross_entropy(eps):
    torch.manual_seed(0)
    logits, y = torch.randn(16, 7), torch.randint(0, 7, (16,))
    ours = default_loss(logits, smooth_labels(y, 7, eps))
    ref = F.cross_entropy(logits, y, label_smoothing=eps, reduction="none")
    assert torch.allclose(ours, ref, atol=1e-6)


def test_technique_and_properties():
    b = LabelSmoothing(eps=0.2, num_classes=4).on_batch(Batch(torch.zeros(2, 1), torch.tensor([0, 3])), None)
    assert torch.allclose(b.y, torch.tensor([[0.85, 0.05, 0.05, 0.05], [0.05, 0.05, 0.05, 0.85]]))
    soft = torch.tensor([[0.5, 0.5, 0.0, 0.0]])
    assert torch.allclose(smooth_labels(soft, 4, 0.0), soft)


def test_bad_input():
    with pytest.raises(ValueError, match="eps must be in"):
        smooth_labels(torch.tensor([0]), 3, 1.5)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
        smooth_labels(torch.tensor([3]), 3, 0.1)
    with pytest.raises(TypeError, match="integers"):
        smooth_labels(torch.tensor([0.0, 1.0]), 3, 0.1)
