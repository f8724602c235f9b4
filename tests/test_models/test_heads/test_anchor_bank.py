"""AnchorBank: the bank both heads hold, its evaluation view, old keys."""
import hashlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS

import mmbeamclip  # noqa: F401
from mmbeamclip.models.heads import AnchorBank, CSMHead, FeatureRegressionHead

KEY = hashlib.sha256(b'bank').hexdigest()


def unit(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(*shape, generator=g), dim=-1)


def numpy_zero_shot(embed, bank, labels, classes, tau=0.01):
    """Reference: softmax over the anchors of ``classes``, pooled."""
    e = embed / np.linalg.norm(embed, axis=1, keepdims=True)
    keep = np.isin(labels, classes)
    logits = e @ bank[keep].T / tau
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    out = np.zeros((len(e), len(classes)))
    for a, label in enumerate(labels[keep]):
        out[:, classes.index(label)] += p[:, a]
    return out


@pytest.mark.parametrize('head_type', ['CSMHead', 'FeatureRegressionHead'])
def test_both_heads_hold_the_same_bank(head_type):
    head = MODELS.build(dict(type=head_type))
    assert isinstance(head, AnchorBank)
    head.set_prompt_bank(unit(4, 8), torch.arange(4), KEY)
    assert head.bank_key == KEY and head.num_classes == 4
    assert set(head.state_dict()) == {
        'prompt_bank', 'anchor_labels', 'bank_hash'
    }


def test_feature_regression_head_is_no_csm_head():
    head = FeatureRegressionHead()
    assert not isinstance(head, CSMHead)
    assert not hasattr(head, 'loss_module')


@pytest.mark.parametrize('head_type', ['CSMHead', 'FeatureRegressionHead'])
def test_checkpoints_of_the_old_layout_load(head_type):
    # the keys every checkpoint before the split holds (head.<name>)
    old = dict(
        prompt_bank=unit(5, 8),
        anchor_labels=torch.tensor([0, 0, 1, 2, 3]),
        bank_hash=torch.tensor(list(bytes.fromhex(KEY)), dtype=torch.uint8))
    head = MODELS.build(dict(type=head_type))
    head.load_state_dict(old)
    assert head.bank_key == KEY and head.num_classes == 4
    assert torch.equal(head.prompt_bank, old['prompt_bank'])


def test_eval_classes_restrict_and_reorder():
    labels = torch.tensor([0, 0, 1, 2, 3, 3, 4])
    head = CSMHead()
    head.set_prompt_bank(unit(7, 8), labels, KEY)
    embed = unit(6, 8, seed=3) * 2
    head.set_eval_classes([3, 0])
    got = head.predict(embed)
    expected = numpy_zero_shot(embed.numpy(), head.prompt_bank.numpy(),
                               labels.numpy(), [3, 0])
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-5, atol=1e-6)
    # an anchor of a class scores that class
    assert head.predict(head.prompt_bank[[4, 0]] * 3).argmax(-1).tolist() \
        == [0, 1]
    # a new bank or a loaded one drops the view: the bank's classes again
    head.load_state_dict(head.state_dict())
    assert head.predict(embed).shape == (6, 5)
    with pytest.raises(ValueError, match='same vocabulary class'):
        head.set_eval_classes([1, 1])
    with pytest.raises(ValueError, match='vocabulary classes'):
        head.set_eval_classes([7])


def test_eval_bank_and_device_of_the_view():
    head = FeatureRegressionHead()
    head.set_prompt_bank(unit(3, 8), torch.arange(3), KEY)
    eval_bank = unit(4, 8, seed=5)
    head.set_eval_bank(eval_bank, torch.tensor([0, 1, 1, 0]))
    embed = unit(2, 8, seed=6)
    expected = numpy_zero_shot(embed.numpy(), eval_bank.numpy(),
                               np.array([0, 1, 1, 0]), [0, 1])
    np.testing.assert_allclose(head.predict(embed).numpy(), expected,
                               rtol=1e-5, atol=1e-6)
    assert 'eval_bank' not in head.state_dict()
    head.clear_eval()
    assert head.predict(embed).shape == (2, 3)
