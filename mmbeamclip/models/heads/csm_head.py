from typing import Dict, Optional

import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS

from mmbeamclip.utils.ranges import check_range
from ..losses import cosine_regression
from .anchor_bank import AnchorBank


@MODELS.register_module()
class CSMHead(AnchorBank):
    """Cross-modal similarity matching head.

    Turns student and teacher image embeddings into cosine similarities to
    the anchors of its bank (see :class:`AnchorBank`) and computes the CSM
    loss plus diagnostics.

    Args:
        loss (dict): Config of the loss. Defaults to ``dict(type='CSMLoss')``.
        embed_weight (float): Weight beta of an auxiliary embedding term
            ``beta * (1 - cos(s, t))`` between the student projection and
            the teacher image embedding, logged as ``loss_embed``. 0 (the
            default) leaves it out.
        predict_temperature (float): See :class:`AnchorBank`.
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 loss: dict = dict(type='CSMLoss'),
                 embed_weight: float = 0.0,
                 predict_temperature: float = 0.01,
                 init_cfg: Optional[dict] = None):
        super().__init__(
            predict_temperature=predict_temperature, init_cfg=init_cfg)
        check_range('embed_weight', embed_weight, 0, owner='CSMHead')
        self.loss_module = MODELS.build(loss)
        self.embed_weight = float(embed_weight)

    def loss(self, student_embed: torch.Tensor,
             teacher_embed: torch.Tensor) -> Dict[str, torch.Tensor]:
        """CSM loss and diagnostics.

        Args:
            student_embed (Tensor): Student projections, shape (N, D).
            teacher_embed (Tensor): Teacher image embeddings, shape (N, D).

        Returns:
            dict[str, Tensor]: ``loss_csm``; ``loss_embed`` with
            ``embed_weight > 0``; and, for logging only,
            ``csm_teacher_entropy`` (nats), ``csm_top1_agreement`` and, with
            a learnable student temperature, ``csm_tau_s``.
        """
        s = self.similarities(student_embed)
        t = self.similarities(teacher_embed.detach())
        losses = dict(loss_csm=self.loss_module(s, t))
        if self.embed_weight > 0:
            loss, _ = cosine_regression(student_embed, teacher_embed)
            losses['loss_embed'] = self.embed_weight * loss
        with torch.no_grad():
            log_p = F.log_softmax(t / self.loss_module.tau_t, dim=-1)
            losses['csm_teacher_entropy'] = -(log_p.exp() * log_p).sum(
                -1).mean()
            losses['csm_top1_agreement'] = (
                s.argmax(-1) == t.argmax(-1)).float().mean()
            if getattr(self.loss_module, 'learn_tau_s', False):
                losses['csm_tau_s'] = self.loss_module.student_tau().detach()
        return losses
