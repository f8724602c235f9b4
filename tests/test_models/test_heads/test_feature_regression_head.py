import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS

import mmbeamclip  # noqa: F401


def test_feature_regression_loss():
    head = MODELS.build(dict(type='FeatureRegressionHead', loss_weight=2.))
    s, t = torch.randn(4, 8), torch.randn(4, 8)
    out = head.loss(s, t)
    cos = F.cosine_similarity(s, t, dim=-1)
    assert torch.allclose(out['loss_reg'], 2 * (1 - cos).mean())
    assert torch.allclose(head.loss(t, 3 * t)['loss_reg'], torch.zeros(()),
                          atol=1e-6)


def test_feature_regression_gradients_reach_student_only():
    head = MODELS.build(dict(type='FeatureRegressionHead'))
    s = torch.randn(4, 8, requires_grad=True)
    t = torch.randn(4, 8, requires_grad=True)
    head.loss(s, t)['loss_reg'].backward()
    assert s.grad is not None and t.grad is None


def test_feature_regression_head_zero_shot():
    head = MODELS.build(dict(type='FeatureRegressionHead'))
    bank = F.normalize(torch.eye(3, 8), dim=-1)
    head.set_prompt_bank(bank, torch.arange(3), '00' * 32)
    probs = head.predict(bank * 5)
    assert probs.argmax(-1).tolist() == [0, 1, 2]
