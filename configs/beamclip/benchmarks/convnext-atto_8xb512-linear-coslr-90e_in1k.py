# Linear probe of a BeamCLIP ConvNeXt-atto student: the recipe of
# resnet18_8xb512-linear-coslr-90e_in1k.py (mmpretrain's SimCLR/BYOL probe:
# LARS lr 1.6, cosine, 90 epochs, global batch 4096, fixed seed) on the
# frozen student. Pass the distilled (or extracted) checkpoint with
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = ['./resnet18_8xb512-linear-coslr-90e_in1k.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='ConvNeXt',
        arch='atto',
        frozen_stages=4,
        init_cfg=dict(
            type='Pretrained', checkpoint='', prefix='backbone.')),
    # The backbone's output is already pooled.
    neck=None,
    head=dict(in_channels=320))
# frozen_stages leaves `backbone.norm3` trainable; lr 0 keeps the whole
# student as it was distilled (norm_eval keeps its statistics).
optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys={'backbone.norm3': dict(lr_mult=0., decay_mult=0.)}))
