from typing import Tuple

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS

from mmbeamclip.utils.ranges import check_range


@MODELS.register_module()
class PooledBatchNormNeck(BaseModule):
    """Global average pooling, then a parameter-free BatchNorm (MAE probe).

    MAE's linear probe (mmpretrain ``ClsBatchNormNeck``) normalises the
    frozen features across the batch before the linear head, so one learning
    rate suits every backbone whatever the scale of its features. That
    matters when one probe recipe must serve a random init, a supervised
    net, SimCLR and distilled students alike. ``ClsBatchNormNeck`` takes
    pooled tokens; this neck pools a CNN's last feature map first (and
    takes already pooled vectors, e.g. ConvNeXt's or a ViT's class token,
    as they come). With
    ``affine=False`` and the running statistics at test time, the probe
    stays a linear classifier of the pooled features.

    Args:
        in_channels (int): Channels of the last feature map.
        eps (float): BatchNorm epsilon. Defaults to 1e-6 (as MAE).
        init_cfg (dict, optional): Initialization config.
    """

    def __init__(self, in_channels: int, eps: float = 1e-6, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        owner = 'PooledBatchNormNeck'
        check_range('in_channels', in_channels, 1, integer=True, owner=owner)
        check_range('eps', eps, 0, low_open=True, owner=owner)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.bn = nn.BatchNorm1d(in_channels, affine=False, eps=eps)

    def forward(self, inputs: Tuple[torch.Tensor]) -> Tuple[torch.Tensor]:
        """Pool and normalise the last feature map.

        Args:
            inputs (tuple[Tensor]): Backbone outputs, last of shape
                (N, C, H, W) or (N, C).

        Returns:
            tuple[Tensor]: Normalised features, shape (N, C).
        """
        x = inputs[-1] if isinstance(inputs, (list, tuple)) else inputs
        if x.dim() == 4:
            x = self.gap(x).flatten(1)
        elif x.dim() != 2:
            raise ValueError(
                'PooledBatchNormNeck takes (N, C, H, W) feature maps or '
                f'(N, C) vectors, got shape {tuple(x.shape)}; for a ViT set '
                "out_type='cls_token' or 'avg_featmap'.")
        return (self.bn(x), )
