"""The student out of a training checkpoint: its weights and its backbone.

A BeamCLIP checkpoint keeps the student under mmpretrain's ``backbone.*``
keys; :func:`extract_student` keeps those (and the provenance),
:func:`build_student_backbone` builds the mmpretrain backbone from the
training config and loads them. Used by ``tools/extract_student.py`` and
``tools/knn_eval.py``; loading the file safely is
:func:`mmbeamclip.utils.checkpoint.load_checkpoint`'s job.
"""
from collections import OrderedDict
from typing import Optional

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS

from .stored_config import parse_stored_config

STUDENT_PREFIX = 'backbone.'


def extract_student(checkpoint: dict, torchvision: bool = False) -> dict:
    """Keep only the student backbone of a BeamCLIP checkpoint.

    Args:
        checkpoint (dict): An mmengine checkpoint (``state_dict`` + ``meta``)
            or a bare state dict.
        torchvision (bool): Return a bare state dict without the
            ``backbone.`` prefix, loadable by a plain torchvision ResNet
            (``strict=False``: its ``fc`` stays untrained). Otherwise return
            ``{'state_dict', 'meta'}`` with ``backbone.*`` keys, what
            mmpretrain's ``Pretrained(prefix='backbone.')`` init expects.

    Returns:
        dict: The student checkpoint.
    """
    if not isinstance(checkpoint, dict):
        raise ValueError(
            f'expected a checkpoint dict, got {type(checkpoint).__name__}')
    state = checkpoint.get('state_dict', checkpoint)
    backbone = OrderedDict(
        (k, v) for k, v in state.items()
        if isinstance(k, str) and k.startswith(STUDENT_PREFIX)
        and isinstance(v, torch.Tensor))
    if not backbone:
        raise ValueError(
            'the checkpoint has no "backbone." weights; is it a BeamCLIP '
            '(or other mmpretrain) checkpoint?')
    if torchvision:
        state = OrderedDict(
            (k[len(STUDENT_PREFIX):], v) for k, v in backbone.items())
        check_torchvision_resnet(state)
        return state
    meta = dict(checkpoint.get('meta', {}))
    # Keep provenance, drop what only resuming needs.
    for key in ('message_hub', 'optimizer', 'param_schedulers'):
        meta.pop(key, None)
    return dict(state_dict=backbone, meta=meta)


# torchvision ResNets by (bottleneck blocks, blocks per stage).
TORCHVISION_RESNETS = {
    (False, (2, 2, 2, 2)): 'resnet18',
    (False, (3, 4, 6, 3)): 'resnet34',
    (True, (3, 4, 6, 3)): 'resnet50',
    (True, (3, 4, 23, 3)): 'resnet101',
    (True, (3, 8, 36, 3)): 'resnet152',
}


def check_torchvision_resnet(state: dict) -> str:
    """Check that a student state dict loads into a torchvision ResNet.

    Every student tensor must have a torchvision key of the same shape and
    every torchvision tensor but the classifier (``fc``) must be given, so
    what ``--torchvision`` writes loads whole, never as a few matching keys.

    Args:
        state (dict): Student weights without the ``backbone.`` prefix.

    Returns:
        str: The torchvision constructor it loads into, e.g. 'resnet18'.

    Raises:
        ValueError: Naming the first tensor that does not fit.
    """
    from torchvision.models import resnet
    blocks = tuple(1 + max((int(k.split('.')[1]) for k in state
                            if k.startswith(f'layer{i}.')), default=-1)
                   for i in range(1, 5))
    name = TORCHVISION_RESNETS.get(('layer1.0.conv3.weight' in state,
                                    blocks))
    help_ = ('--torchvision exports only torchvision-style ResNet students '
             '(mmpretrain ResNet, depth 18-152); export this student '
             'without --torchvision (mmpretrain keys) or with --format '
             'torchscript / onnx.')
    if name is None:
        some = ', '.join(list(state)[:3])
        raise ValueError(f'the student ({some}, ...) is not a ResNet '
                         f'torchvision has; {help_}')
    with torch.device('meta'):
        expected = getattr(resnet, name)().state_dict()
    expected = {k: v for k, v in expected.items() if not k.startswith('fc.')}
    for key, value in state.items():
        shape = tuple(expected[key].shape) if key in expected else None
        if shape != tuple(value.shape):
            found = f'of shape {shape}' if shape else 'no such tensor'
            raise ValueError(
                f'the student tensor {key!r} {tuple(value.shape)} does not '
                f'fit torchvision {name} ({found}); {help_}')
    missing = sorted(set(expected) - set(state))
    if missing:
        raise ValueError(f'the student lacks torchvision {name} tensors '
                         f'{missing[:3]}; {help_}')
    return name


def training_config(checkpoint: dict,
                    config: Optional[str] = None,
                    source: str = 'the checkpoint') -> Optional[Config]:
    """The config a checkpoint was trained with.

    Args:
        checkpoint (dict): An mmengine checkpoint, or what
            :func:`extract_student` wrote (it keeps ``meta['cfg']``).
        config (str, optional): A config file that takes precedence (the
            user's own file, executed as any mmengine config is).
        source (str): The checkpoint's path, named in errors.

    Returns:
        Config | None: The config, or None when the checkpoint holds none
        and no file is given.

    Raises:
        ValueError: The stored config is not plain data; it is read with
            :func:`parse_stored_config`, never executed.
    """
    if config is not None:
        return Config.fromfile(config)
    meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
    text = meta.get('cfg') if isinstance(meta, dict) else None
    return parse_stored_config(text, source)


def build_student_backbone(checkpoint: dict,
                           config: Optional[str] = None,
                           default: Optional[dict] = None,
                           source: str = 'the checkpoint') -> torch.nn.Module:
    """The mmpretrain student backbone with a checkpoint's weights.

    Args:
        checkpoint (dict): A BeamCLIP, student or mmpretrain checkpoint.
        config (str, optional): Config file whose ``model.backbone`` to
            build; by default the config saved in the checkpoint.
        default (dict, optional): Backbone config used when neither gives
            one, e.g. ``dict(type='ResNet', depth=18)``.
        source (str): The checkpoint's path, named in errors.

    Returns:
        nn.Module: The backbone with the ``backbone.*`` weights, in eval
        mode, on the CPU.
    """
    cfg = training_config(checkpoint, config, source)
    backbone_cfg = cfg.get('model', {}).get('backbone') if cfg else None
    if backbone_cfg is None:
        if default is None:
            given = config or f'{source} (no meta["cfg"])'
            raise ValueError(
                f'{given} gives no model.backbone config; pass the '
                'training config')
        backbone_cfg = default
    backbone_cfg = dict(backbone_cfg)
    backbone_cfg.pop('init_cfg', None)
    init_default_scope('mmpretrain')
    backbone = MODELS.build(backbone_cfg)
    state = OrderedDict(
        (k[len(STUDENT_PREFIX):], v)
        for k, v in extract_student(checkpoint)['state_dict'].items())
    missing, unexpected = backbone.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(
            f'the checkpoint\'s {STUDENT_PREFIX}* weights do not fit the '
            f'backbone {backbone_cfg["type"]}: missing {missing[:5]}, '
            f'unexpected {unexpected[:5]}')
    # mmpretrain's ResNet.train() returns None, so no chaining.
    backbone.eval()
    return backbone
