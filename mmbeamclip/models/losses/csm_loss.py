import math
from typing import Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.registry import MODELS

from mmbeamclip.utils.ranges import check_range


def csm_loss(student_sim: torch.Tensor,
             teacher_sim: torch.Tensor,
             tau_t: float = 0.01,
             tau_s: Union[float, torch.Tensor] = 0.04) -> torch.Tensor:
    """Cross-modal similarity matching: KL(p || q) per sample.

    ``p = softmax(teacher_sim / tau_t)`` and ``q = softmax(student_sim /
    tau_s)`` are distributions over the K text anchors. The teacher side is
    detached and everything is computed in fp32, also under AMP.

    Args:
        student_sim (Tensor): Cosine similarities of student image embeddings
            to the anchors, shape (N, K).
        teacher_sim (Tensor): Cosine similarities of teacher image embeddings
            to the anchors, shape (N, K).
        tau_t (float): Teacher temperature. Defaults to 0.01.
        tau_s (float | Tensor): Student temperature (a scalar tensor when
            it is learnt). Defaults to 0.04.

    Returns:
        Tensor: KL divergence of each sample, shape (N,).
    """
    if student_sim.shape != teacher_sim.shape:
        raise ValueError('student and teacher similarities must have the same '
                         f'shape, got {tuple(student_sim.shape)} and '
                         f'{tuple(teacher_sim.shape)}')
    log_p = F.log_softmax(teacher_sim.detach().float() / tau_t, dim=-1)
    log_q = F.log_softmax(student_sim.float() / tau_s, dim=-1)
    return (log_p.exp() * (log_p - log_q)).sum(dim=-1)


@MODELS.register_module()
class CSMLoss(nn.Module):
    """Cross-modal similarity matching loss of `BeamCLIP
    <https://arxiv.org/abs/2301.02903>`_.

    The student learns to reproduce, over a bank of K text anchors, the
    teacher's softmax distribution of image-to-anchor similarities:
    ``KL(softmax(<t, a_k> / tau_t) || softmax(<s, a_k> / tau_s))``.

    The paper's temperatures are not public. The defaults are a
    reconstruction: the teacher at CLIP's own temperature (0.01, logit
    scale 100), which keeps its zero-shot distribution as sharp as CLIP
    trained it; the student slightly softer (0.04, as in CompRess /
    SEED-style distillation), which gives a freshly initialised student
    useful gradients on more than the top anchor. No tau^2 factor is
    applied; scale with ``loss_weight``.

    Args:
        tau_t (float): Teacher temperature. Defaults to 0.01.
        tau_s (float | str): Student temperature, or ``'equal'`` for
            ``tau_t``. With ``learn_tau_s`` the initial value. Defaults to
            0.04.
        loss_weight (float): Multiplier of the loss, > 0. Defaults to 1.0.
        learn_tau_s (bool): Learn the student temperature, as CLIP learns
            its logit scale: a parameter ``log_tau_s`` (initialised at
            ``log(tau_s)``) clamped to ``tau_s_range``. Exclude it from
            weight decay (``paramwise_cfg=dict(custom_keys={'log_tau_s':
            dict(decay_mult=0.)})``). Defaults to False.
        tau_s_range (Sequence[float]): Bounds of a learnt student
            temperature. Defaults to (0.01, 1.0): no sharper than CLIP's
            own logit-scale cap of 100.

    Examples:
        >>> loss = CSMLoss(tau_t=0.01, tau_s=0.04)
        >>> s, t = torch.randn(8, 1000), torch.randn(8, 1000)
        >>> loss(s.tanh(), t.tanh()).shape
        torch.Size([])
    """

    def __init__(self,
                 tau_t: float = 0.01,
                 tau_s: Union[float, str] = 0.04,
                 loss_weight: float = 1.0,
                 learn_tau_s: bool = False,
                 tau_s_range: Sequence[float] = (0.01, 1.0)):
        super().__init__()
        if isinstance(tau_s, str):
            if tau_s != 'equal':
                raise ValueError(
                    f"tau_s must be a number or 'equal', got {tau_s!r}")
            tau_s = tau_t
        # A temperature <= 0 inverts the softmax's ranking (or gives NaN);
        # a loss weight <= 0 trains nothing or away from the teacher.
        check_range('tau_t', tau_t, 0, low_open=True, owner='CSMLoss')
        check_range('tau_s', tau_s, 0, low_open=True, owner='CSMLoss')
        check_range(
            'loss_weight', loss_weight, 0, low_open=True, owner='CSMLoss')
        self.tau_t = tau_t
        self.tau_s = tau_s
        self.loss_weight = loss_weight
        self.learn_tau_s = learn_tau_s
        if learn_tau_s:
            low, high = tau_s_range
            if not 0 < low <= tau_s <= high:
                raise ValueError(
                    f'tau_s_range must satisfy 0 < low <= tau_s <= high, got '
                    f'{tuple(tau_s_range)} with tau_s={tau_s}')
            self.log_tau_range = (math.log(low), math.log(high))
            self.log_tau_s = nn.Parameter(torch.tensor(math.log(tau_s)))

    def student_tau(self) -> Union[float, torch.Tensor]:
        """The student temperature: ``tau_s``, or the learnt clamped one."""
        if not self.learn_tau_s:
            return self.tau_s
        return self.log_tau_s.clamp(*self.log_tau_range).exp()

    def forward(self, student_sim: torch.Tensor,
                teacher_sim: torch.Tensor) -> torch.Tensor:
        """Mean KL over the batch.

        Args:
            student_sim (Tensor): Student-anchor cosines, shape (N, K).
            teacher_sim (Tensor): Teacher-anchor cosines, shape (N, K).

        Returns:
            Tensor: Scalar loss.
        """
        kl = csm_loss(student_sim, teacher_sim, self.tau_t,
                      self.student_tau())
        return self.loss_weight * kl.mean()
