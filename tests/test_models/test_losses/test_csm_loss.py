import numpy as np
import pytest
import torch

from mmbeamclip.models.losses import CSMLoss, csm_loss


def numpy_kl(student_sim, teacher_sim, tau_t, tau_s):
    """Independent reference: KL(p || q) per row, in float64 numpy."""

    def log_softmax(x):
        x = x - x.max(axis=1, keepdims=True)
        return x - np.log(np.exp(x).sum(axis=1, keepdims=True))

    log_p = log_softmax(teacher_sim / tau_t)
    log_q = log_softmax(student_sim / tau_s)
    return (np.exp(log_p) * (log_p - log_q)).sum(axis=1)


def cosines(n, k, d=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.nn.functional.normalize(torch.randn(n, d, generator=g), dim=1)
    a = torch.nn.functional.normalize(torch.randn(k, d, generator=g), dim=1)
    return x @ a.t()


@pytest.mark.parametrize('tau_t', [0.01, 0.04, 0.1])
@pytest.mark.parametrize('tau_s', [0.01, 0.04, 0.2])
@pytest.mark.parametrize('k', [2, 10, 1000])
def test_matches_numpy_reference(tau_t, tau_s, k):
    s, t = cosines(8, k, seed=1), cosines(8, k, seed=2)
    expected = numpy_kl(s.double().numpy(), t.double().numpy(), tau_t, tau_s)
    got = csm_loss(s, t, tau_t, tau_s)
    assert got.shape == (8, )
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-4, atol=1e-5)
    loss = CSMLoss(tau_t=tau_t, tau_s=tau_s, loss_weight=0.5)(s, t)
    assert loss.item() == pytest.approx(0.5 * expected.mean(), rel=1e-4,
                                        abs=1e-6)


@pytest.mark.parametrize('tau', [0.01, 0.07])
def test_zero_when_student_equals_teacher(tau):
    s = cosines(6, 50)
    assert CSMLoss(tau_t=tau, tau_s=tau)(s, s.clone()).item() == \
        pytest.approx(0, abs=1e-6)
    # and positive when the temperatures differ or the student differs
    assert CSMLoss(tau_t=tau, tau_s=2 * tau)(s, s.clone()).item() > 1e-4
    assert CSMLoss(tau_t=tau, tau_s=tau)(cosines(6, 50, seed=5), s) > 1e-3


def test_invariant_to_anchor_order():
    s, t = cosines(5, 30, seed=3), cosines(5, 30, seed=4)
    perm = torch.randperm(30, generator=torch.Generator().manual_seed(0))
    loss = CSMLoss()
    assert loss(s[:, perm], t[:, perm]).item() == pytest.approx(
        loss(s, t).item(), rel=1e-6)


def test_gradients_reach_the_student_only():
    s = cosines(4, 20, seed=6).requires_grad_()
    t = cosines(4, 20, seed=7).requires_grad_()
    CSMLoss()(s, t).backward()
    assert s.grad is not None and s.grad.abs().sum() > 0
    assert t.grad is None


def test_fp32_under_half_inputs():
    s, t = cosines(4, 20, seed=8), cosines(4, 20, seed=9)
    loss = CSMLoss()(s.half(), t.half())
    assert loss.dtype == torch.float32
    assert torch.isfinite(loss)


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match='tau_t must be > 0'):
        CSMLoss(tau_t=0)
    with pytest.raises(ValueError, match='same shape'):
        csm_loss(torch.zeros(2, 3), torch.zeros(2, 4))
