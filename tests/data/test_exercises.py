import pytest
import torch.nn.functional as F

from accel_lib.data import (forgetting_events, image_size, importance_probabilities, mixup_batch, pacing,
                            select_top_loss, seq_len, smooth_labels)
from accel_lib.exercises import data as ex


def test_checkers_accept_the_library_and_reject_mistakes():
    assert ex.check_mixup(mixup_batch)
    assert ex.check_smooth_labels(smooth_labels)
    assert ex.check_cutmix_lam(lambda h, w, b: 1 - (b[2] - b[0]) * (b[3] - b[1]) / (h * w))
    assert ex.check_importance_weights(lambda s, sm: (importance_probabilities(s, sm),
                                                      1 / (len(s) * importance_probabilities(s, sm))))
    assert ex.check_select_top_loss(select_top_loss)
    assert ex.check_forgetting(forgetting_events)
    assert ex.check_pacing(lambda p, a, b: pacing(p, "root", a, b))
    assert ex.check_image_size(image_size)
    assert ex.check_seq_len(seq_len)
    with pytest.raises(AssertionError, match="hint"):
        ex.check_mixup(lambda x, y, lam, perm, k: mixup_batch(x, y, 1 - lam, perm, k))
    with pytest.raises(AssertionError, match="eps/K"):
        ex.check_smooth_labels(lambda y, k, e: (1 - e) * F.one_hot(y, k).float() + e / (k - 1))
    with pytest.raises(AssertionError):
        ex.check_pacing(lambda p, a, b: pacing(p, "linear", a, b))
