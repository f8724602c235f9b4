import pytest
import torch
from mmpretrain.registry import MODELS

import mmbeamclip  # noqa: F401


def test_pooled_bn_neck_normalises_and_stays_linear():
    neck = MODELS.build(dict(type='PooledBatchNormNeck', in_channels=8))
    assert not list(neck.parameters())  # parameter-free, like MAE's
    x = torch.randn(16, 8, 3, 3) * 50 + 7
    neck.train()
    (out, ) = neck((x, ))
    assert out.shape == (16, 8)
    assert torch.allclose(out.mean(0), torch.zeros(8), atol=1e-4)
    assert torch.allclose(out.std(0, unbiased=False), torch.ones(8),
                          atol=1e-3)
    # At test time: a fixed affine map of the pooled features.
    neck.eval()
    a, b = neck((x[:1], ))[0], neck((2 * x[:1], ))[0]
    (zero, ) = neck((torch.zeros(1, 8, 3, 3), ))
    assert torch.allclose(b - zero, 2 * (a - zero), atol=1e-4)


def test_pooled_vectors_pass_through_and_tokens_are_refused():
    """ConvNeXt and a ViT class token give (N, C): normalised as they are."""
    neck = MODELS.build(dict(type='PooledBatchNormNeck', in_channels=8))
    x = torch.randn(16, 8) * 5 + 3
    neck.train()
    (out, ) = neck((x, ))
    ref = (x - x.mean(0)) / (x.var(0, unbiased=False) + 1e-6).sqrt()
    torch.testing.assert_close(out, ref, atol=1e-4, rtol=1e-4)
    with pytest.raises(ValueError, match='cls_token'):
        neck((torch.randn(2, 5, 8), ))
