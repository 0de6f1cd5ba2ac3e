import pytest
import torch

from accel_lib.core import Budget, train
from accel_lib.optim.lookahead import Lookahead


def test_matches_the_paper_algorithm_on_a_quadratic():
    a = torch.diag(torch.tensor([1.0, 20.0]))
    data = [(torch.zeros(1, 2), torch.zeros(1)) for _ in range(12)]

    class Quad(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.tensor([1.0, 1.0]))

        def forward(self, x):
            return (0.5 * self.w @ a @ self.w).expand(x.shape[0])

    la = Lookahead(k=3, alpha=0.5)
    st = train(Quad(), data, budget=Budget(12, "steps"), optimizer=lambda p: torch.optim.SGD(p, lr=0.09, momentum=0.5),
               techniques=[la], loss_fn=lambda out, y: out, device="cpu")
    # Algorithm 1 of Zhang et al. (2019), inner optimizer SGD with momentum kept across syncs
    w = torch.tensor([1.0, 1.0])
    slow, buf = w.clone(), torch.zeros(2)
    for t in range(1, 13):
        g = a @ w
        buf = 0.5 * buf + g
        w = w - 0.09 * buf
        if t % 3 == 0:
            slow = slow + 0.5 * (w - slow)
            w = slow.clone()
    assert torch.allclose(st.model.w.detach(), w, atol=1e-6)
    assert torch.allclose(la.slow[0], slow, atol=1e-6)


def test_alpha_one_is_the_inner_optimizer():
    torch.manual_seed(0)
    data = [(torch.randn(4, 3), torch.randint(0, 2, (4,))) for _ in range(6)]
    kw = dict(budget=Budget(6, "steps"), optimizer=lambda p: torch.optim.SGD(p, lr=0.1), device="cpu")
    torch.manual_seed(1)
    a = train(torch.nn.Linear(3, 2), data, **kw)
    torch.manual_seed(1)
    b = train(torch.nn.Linear(3, 2), data, techniques=[Lookahead(k=2, alpha=1.0)], **kw)
    assert all(torch.equal(p, q) for p, q in zip(a.model.parameters(), b.model.parameters()))


@pytest.mark.parametrize("kw", [dict(k=0), dict(alpha=0.0), dict(alpha=1.5)])
def test_bad_arguments(kw):
    with pytest.raises(ValueError, match="must"):
        Lookahead(**kw)
