"""The student's output width, read off the backbone itself.

A BeamCLIP student is any mmpretrain backbone. Its projection neck must know
how wide the last output is (512 for ResNet-18, 1280 for MobileNetV2, 320 for
ConvNeXt-atto, ...) and whether that output is a feature map to pool or an
already pooled vector (ConvNeXt, a ViT's class token). Rather than a
hand-set ``in_channels`` per student, one small no-grad forward of the
backbone in eval mode tells both.
"""
import copy
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn

#: Probe size when the backbone does not state its own input size.
PROBE_SIZE = 64


def last_output(feats):
    """The last entry of a backbone's tuple of outputs (or the tensor)."""
    return feats[-1] if isinstance(feats, (list, tuple)) else feats


def backbone_output_shape(backbone: nn.Module,
                          probe_size: Optional[int] = None
                          ) -> Tuple[int, ...]:
    """Shape of the backbone's last output for one image, batch dim dropped.

    Runs one no-grad forward on a zero image in eval mode, so BatchNorm
    statistics are neither used for a batch of one nor updated; the
    backbone's training mode is restored afterwards.

    Args:
        backbone (nn.Module): Any mmpretrain backbone.
        probe_size (int, optional): Side of the probe image. Defaults to the
            backbone's ``img_size`` if it has one (ViTs), else 64.

    Returns:
        tuple[int]: ``(C,)`` for pooled vectors, ``(C, H, W)`` for feature
        maps, ``(L, C)`` for token sequences.
    """
    if probe_size is None:
        size = getattr(backbone, 'img_size', None) or PROBE_SIZE
        probe_size = size[0] if isinstance(size, Sequence) else int(size)
    was_training = backbone.training
    param = next(backbone.parameters(), None)
    device = param.device if param is not None else 'cpu'
    backbone.eval()
    try:
        with torch.no_grad():
            out = last_output(
                backbone(torch.zeros(1, 3, probe_size, probe_size,
                                     device=device)))
    except Exception as e:
        raise ValueError(
            f'Could not read the output width of {type(backbone).__name__} '
            f'from a {probe_size}x{probe_size} probe image ({e}). Set '
            'model.neck.in_channels by hand.') from e
    finally:
        backbone.train(was_training)
    return tuple(out.shape[1:])


def complete_neck_cfg(neck: dict, shape: Tuple[int, ...],
                      key: str = 'neck') -> dict:
    """Fill (or check) a projection neck's input settings from ``shape``.

    ``in_channels`` absent or None is set to the backbone's width; a given
    value must match it. For necks with ``with_avg_pool``
    (mmpretrain's ``NonLinearNeck``), pooling is switched off for outputs
    that are already vectors when the config leaves it unset, and a setting
    that cannot work is refused.

    Args:
        neck (dict): The neck config; not modified.
        shape (tuple[int]): :func:`backbone_output_shape` of the student.
        key (str): Config key of the neck, for messages.

    Returns:
        dict: A completed copy of ``neck``.

    Raises:
        ValueError: If the backbone outputs a token sequence, or the given
            ``in_channels`` or ``with_avg_pool`` does not fit the output.
    """
    neck = copy.deepcopy(neck)
    if len(shape) == 2:
        raise ValueError(
            f'The student backbone outputs a token sequence {tuple(shape)}; '
            f'model.{key} expects a feature map or a pooled vector. Set the '
            "backbone's out_type='cls_token' or 'avg_featmap' (ViTs).")
    width = shape[0]
    given = neck.get('in_channels')
    if given is None:
        neck['in_channels'] = width
    elif given != width:
        raise ValueError(
            f'model.{key}.in_channels={given}, but the student backbone '
            f'outputs {width} channels: set model.{key}.in_channels={width} '
            'or leave it out to have it read off the backbone.')
    if 'with_avg_pool' in neck or neck.get('type') == 'NonLinearNeck':
        pooled = len(shape) == 1
        pool = neck.get('with_avg_pool')
        if pool is None:
            neck['with_avg_pool'] = not pooled
        elif pool and pooled:
            raise ValueError(
                f'model.{key}.with_avg_pool=True, but the student backbone '
                f'already outputs pooled {width}-d vectors: set it to False '
                'or leave it out.')
        elif not pool and not pooled:
            raise ValueError(
                f'model.{key}.with_avg_pool=False, but the student backbone '
                f'outputs feature maps {tuple(shape)}: set it to True or '
                'leave it out.')
    return neck
