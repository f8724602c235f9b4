import hashlib

import pytest
import torch
import torch.nn.functional as F

from mmbeamclip.models.heads import CSMHead, pool_anchor_scores
from mmbeamclip.models.losses import csm_loss

KEY = hashlib.sha256(b'bank').hexdigest()


def unit(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(*shape, generator=g), dim=-1)


def head_with_bank(k=6, d=8, labels=None):
    head = CSMHead()
    labels = torch.arange(k) if labels is None else labels
    head.set_prompt_bank(unit(k, d), labels, KEY)
    return head


def test_empty_bank_is_a_clear_error():
    head = CSMHead()
    assert not head.has_bank and head.bank_key == ''
    with pytest.raises(RuntimeError, match='PromptBankHook'):
        head.loss(unit(2, 8), unit(2, 8))
    with pytest.raises(ValueError, match='non-empty'):
        head.set_prompt_bank(torch.zeros(0, 8), torch.zeros(0), KEY)


def test_loss_and_diagnostics_against_functional():
    head = head_with_bank()
    s, t = unit(4, 8, seed=1), unit(4, 8, seed=2)
    out = head.loss(s, t)
    bank = head.prompt_bank
    expected = csm_loss(s @ bank.t(), t @ bank.t()).mean()
    torch.testing.assert_close(out['loss_csm'], expected)
    # diagnostics carry no 'loss' in their key: logged, not backpropagated
    assert not any('loss' in k for k in out if k != 'loss_csm')
    p = (t @ bank.t() / 0.01).softmax(-1)
    entropy = -(p * p.clamp_min(1e-30).log()).sum(-1).mean()
    torch.testing.assert_close(out['csm_teacher_entropy'], entropy,
                               atol=1e-4, rtol=1e-4)
    agree = ((s @ bank.t()).argmax(-1) == (t @ bank.t()).argmax(-1)).float()
    assert out['csm_top1_agreement'].item() == pytest.approx(agree.mean())
    # identical embeddings agree everywhere
    assert head.loss(s, s)['csm_top1_agreement'].item() == 1.0


def test_wrong_embedding_size():
    with pytest.raises(ValueError, match='out_channels'):
        head_with_bank(d=8).loss(unit(2, 16), unit(2, 16))


def test_predict_pools_anchors_to_classes():
    labels = torch.tensor([0, 0, 1, 2, 2, 2])
    head = head_with_bank(labels=labels)
    probs = head.predict(unit(3, 8, seed=4))
    assert probs.shape == (3, 3)
    torch.testing.assert_close(probs.sum(-1), torch.ones(3))
    anchor = (unit(3, 8, seed=4) @ head.prompt_bank.t() / 0.01).softmax(-1)
    torch.testing.assert_close(probs[:, 0], anchor[:, :2].sum(-1))
    torch.testing.assert_close(probs[:, 2], anchor[:, 3:].sum(-1))


def test_pool_anchor_scores_identity_for_one_anchor_per_class():
    p = torch.rand(2, 4).softmax(-1)
    torch.testing.assert_close(
        pool_anchor_scores(p, torch.tensor([2, 0, 3, 1]), 4),
        p[:, [1, 3, 0, 2]])


def test_bank_round_trips_through_state_dict():
    head = head_with_bank(k=5, d=8)
    fresh = CSMHead()
    fresh.load_state_dict(head.state_dict())
    assert fresh.bank_key == KEY
    assert torch.equal(fresh.prompt_bank, head.prompt_bank)
    assert torch.equal(fresh.anchor_labels, head.anchor_labels)
    assert fresh.num_classes == 5
