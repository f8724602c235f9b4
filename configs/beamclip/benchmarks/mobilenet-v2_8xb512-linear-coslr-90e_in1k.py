# Linear probe of a BeamCLIP MobileNetV2 student: the recipe of
# resnet18_8xb512-linear-coslr-90e_in1k.py (mmpretrain's SimCLR/BYOL probe:
# LARS lr 1.6, cosine, 90 epochs, global batch 4096, fixed seed) on the
# frozen student. Pass the distilled (or extracted) checkpoint with
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = ['./resnet18_8xb512-linear-coslr-90e_in1k.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='MobileNetV2',
        widen_factor=1.0,
        frozen_stages=7,
        norm_eval=True,
        init_cfg=dict(
            type='Pretrained', checkpoint='', prefix='backbone.')),
    head=dict(in_channels=1280))
# frozen_stages leaves `backbone.conv2` trainable; lr 0 keeps the whole
# student as it was distilled (norm_eval keeps its statistics).
optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys={'backbone.conv2': dict(lr_mult=0., decay_mult=0.)}))
