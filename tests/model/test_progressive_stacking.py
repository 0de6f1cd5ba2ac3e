import pytest
import torch

from accel_lib.model.progressive_stacking import ProgressiveStacking, depth_schedule, stack_layers
from tests.model.helpers import tiny_gpt, train_gpt


def test_schedule():
    assert [depth_schedule(p, 8) for p in (0.0, 0.3, 0.6, 1.0)] == [2, 4, 8, 8]
    assert depth_schedule(0.1, 4, stages=(0.5,)) == 2


def test_stack_copies_in_order():
    m = tiny_gpt(n_layer=2)
    new = stack_layers(m.blocks)
    assert len(m.blocks) == 4 and new[0] is m.blocks[2]
    for a, b in zip(m.blocks[0].parameters(), m.blocks[2].parameters()):
        assert torch.equal(a, b) and a is not b


def test_training_grows_depth_and_optimizer_gets_new_params():
    t = ProgressiveStacking(final_depth=4, stages=(0.25, 0.5))
    m = tiny_gpt(n_layer=4)
    st = train_gpt(m, [t], steps=8)
    assert len(st.model.blocks) == 4 and st.model.cfg.n_layer == 4
    assert len(st.optimizer.param_groups) == 3
    opt_params = {id(p) for g in st.optimizer.param_groups for p in g["params"]}
    assert all(id(p) in opt_params for p in st.model.parameters())
    assert not torch.equal(st.model.blocks[3].mlp[0].weight, st.model.blocks[1].mlp[0].weight)  # trained after copy
    assert torch.isfinite(st.loss)


def test_bad_arguments():
    with pytest.raises(ValueError, match="divisible"):
        depth_schedule(0.0, 6)
    with pytest.raises(ValueError, match="increasing"):
        depth_schedule(0.0, 8, stages=(0.5, 0.2))
    with pytest.raises(ValueError, match="blocks"):
        ProgressiveStacking().setup_model(torch.nn.Linear(2, 2), None)
