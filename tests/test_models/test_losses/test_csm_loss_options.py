"""CSM options, each off by default: student temperature, embedding term."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from test_csm_loss import cosines, numpy_kl

from mmbeamclip.models.heads import CSMHead
from mmbeamclip.models.losses import CSMLoss, csm_loss

KEY = 'ab' * 32


def test_default_is_bit_identical_to_the_plain_formula():
    s, t = cosines(8, 100, seed=1), cosines(8, 100, seed=2)
    assert torch.equal(CSMLoss()(s, t), csm_loss(s, t, 0.01, 0.04).mean())
    head = CSMHead()
    bank = F.normalize(torch.randn(100, 16), dim=-1)
    head.set_prompt_bank(bank, torch.arange(100), KEY)
    se, te = torch.randn(8, 16), torch.randn(8, 16)
    out = head.loss(se, te)
    expected = csm_loss(
        F.normalize(se, dim=-1) @ bank.t(),
        F.normalize(te, dim=-1) @ bank.t()).mean()
    assert torch.equal(out['loss_csm'], expected)
    assert set(out) == {
        'loss_csm', 'csm_teacher_entropy', 'csm_top1_agreement'
    }
    assert list(head.parameters()) == []


def test_equal_temperature():
    s, t = cosines(6, 40, seed=3), cosines(6, 40, seed=4)
    loss = CSMLoss(tau_t=0.02, tau_s='equal')
    assert loss.tau_s == 0.02
    expected = numpy_kl(s.double().numpy(), t.double().numpy(), 0.02, 0.02)
    assert loss(s, t).item() == pytest.approx(expected.mean(), rel=1e-4)
    with pytest.raises(ValueError, match="'equal'"):
        CSMLoss(tau_s='same')


def test_learnable_temperature_matches_numpy_and_learns():
    s = cosines(6, 40, seed=5).requires_grad_()
    t = cosines(6, 40, seed=6)
    loss = CSMLoss(tau_s=0.05, learn_tau_s=True)
    assert loss.log_tau_s.item() == pytest.approx(math.log(0.05))
    value = loss(s, t)
    expected = numpy_kl(s.detach().double().numpy(), t.double().numpy(),
                        0.01, 0.05)
    assert value.item() == pytest.approx(expected.mean(), rel=1e-4)
    value.backward()
    # numerical derivative of the numpy reference in log tau
    eps = 1e-4
    up = numpy_kl(s.detach().double().numpy(), t.double().numpy(), 0.01,
                  0.05 * math.exp(eps)).mean()
    down = numpy_kl(s.detach().double().numpy(), t.double().numpy(), 0.01,
                    0.05 * math.exp(-eps)).mean()
    assert loss.log_tau_s.grad.item() == pytest.approx(
        (up - down) / (2 * eps), rel=1e-3)
    assert s.grad is not None


def test_learnable_temperature_is_clamped():
    loss = CSMLoss(tau_s=0.04, learn_tau_s=True, tau_s_range=(0.02, 0.1))
    with torch.no_grad():
        loss.log_tau_s.fill_(math.log(1e-4))
    assert loss.student_tau().item() == pytest.approx(0.02)
    with torch.no_grad():
        loss.log_tau_s.fill_(math.log(5.0))
    assert loss.student_tau().item() == pytest.approx(0.1)
    with pytest.raises(ValueError, match='tau_s_range'):
        CSMLoss(tau_s=0.5, learn_tau_s=True, tau_s_range=(0.01, 0.1))


def test_head_logs_a_learnt_temperature():
    head = CSMHead(loss=dict(type='CSMLoss', learn_tau_s=True))
    head.set_prompt_bank(F.normalize(torch.randn(10, 8), dim=-1),
                         torch.arange(10), KEY)
    out = head.loss(torch.randn(4, 8), torch.randn(4, 8))
    assert out['csm_tau_s'].item() == pytest.approx(0.04)
    assert [n for n, _ in head.named_parameters()] == ['loss_module.log_tau_s']


def test_embedding_term_matches_numpy():
    head = CSMHead(embed_weight=0.3)
    bank = F.normalize(torch.randn(10, 8), dim=-1)
    head.set_prompt_bank(bank, torch.arange(10), KEY)
    s = torch.randn(5, 8, requires_grad=True)
    t = torch.randn(5, 8)
    out = head.loss(s, t)
    sn = s.detach().numpy() / np.linalg.norm(s.detach().numpy(), axis=1,
                                             keepdims=True)
    tn = t.numpy() / np.linalg.norm(t.numpy(), axis=1, keepdims=True)
    expected = 0.3 * (1 - (sn * tn).sum(1)).mean()
    assert out['loss_embed'].item() == pytest.approx(expected, rel=1e-5)
    # CSM itself is unchanged by the extra term
    assert torch.equal(out['loss_csm'],
                       _with_bank(bank).loss(s, t)['loss_csm'])
    out['loss_embed'].backward()
    assert s.grad is not None
    with pytest.raises(ValueError, match='embed_weight'):
        CSMHead(embed_weight=-1)


def _with_bank(bank):
    head = CSMHead()
    head.set_prompt_bank(bank, torch.arange(len(bank)), KEY)
    return head
