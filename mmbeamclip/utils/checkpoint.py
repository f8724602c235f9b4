from collections import OrderedDict

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
    state = checkpoint.get('state_dict', checkpoint)
    backbone = OrderedDict((k, v) for k, v in state.items()
                           if k.startswith(STUDENT_PREFIX))
    if not backbone:
        raise ValueError(
            'the checkpoint has no "backbone." weights; is it a BeamCLIP '
            '(or other mmpretrain) checkpoint?')
    if torchvision:
        return OrderedDict(
            (k[len(STUDENT_PREFIX):], v) for k, v in backbone.items())
    meta = dict(checkpoint.get('meta', {}))
    # Keep provenance, drop what only resuming needs.
    for key in ('message_hub', 'optimizer', 'param_schedulers'):
        meta.pop(key, None)
    return dict(state_dict=backbone, meta=meta)
