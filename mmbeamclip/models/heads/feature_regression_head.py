from typing import Dict, Optional

import torch
from mmpretrain.registry import MODELS

from mmbeamclip.utils.ranges import check_range
from ..losses import cosine_regression
from .anchor_bank import AnchorBank


@MODELS.register_module()
class FeatureRegressionHead(AnchorBank):
    """The obvious distillation baseline: regress the teacher's embedding.

    Drop-in for :class:`CSMHead` in :class:`BeamCLIP`: same inputs, but the
    loss is ``1 - cos(s, t)`` between the student projection and the teacher
    image embedding, with no text anchors involved. The anchor bank is still
    held (filled by :class:`PromptBankHook` if configured) so the student's
    zero-shot accuracy can be measured the same way as for CSM.

    Args:
        loss_weight (float): Multiplier of the loss, > 0. Defaults to 1.0.
        predict_temperature (float): See :class:`AnchorBank`.
        init_cfg (dict, optional): Initialization config.
    """

    def __init__(self,
                 loss_weight: float = 1.0,
                 predict_temperature: float = 0.01,
                 init_cfg: Optional[dict] = None):
        super().__init__(
            predict_temperature=predict_temperature, init_cfg=init_cfg)
        # Its only loss: 0 trains nothing, < 0 pushes away from the
        # teacher.
        self.loss_weight = check_range(
            'loss_weight',
            loss_weight,
            0,
            low_open=True,
            owner='FeatureRegressionHead')

    def loss(self, student_embed: torch.Tensor,
             teacher_embed: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Cosine regression loss.

        Args:
            student_embed (Tensor): Student projections, shape (N, D).
            teacher_embed (Tensor): Teacher image embeddings, shape (N, D).

        Returns:
            dict[str, Tensor]: ``loss_reg`` and ``reg_cosine`` (logging).
        """
        loss, cos = cosine_regression(student_embed, teacher_embed)
        return dict(
            loss_reg=self.loss_weight * loss, reg_cosine=cos.detach().mean())
