# Linear probe of a BeamCLIP MobileNetV3-Large student: the recipe of
# resnet18_8xb512-linear-coslr-90e_in1k.py (mmpretrain's SimCLR/BYOL probe:
# LARS lr 1.6, cosine, 90 epochs, global batch 4096, fixed seed) on the
# frozen student. Pass the distilled (or extracted) checkpoint with
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = ['./resnet18_8xb512-linear-coslr-90e_in1k.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='MobileNetV3',
        arch='large',
        frozen_stages=16,
        norm_eval=True,
        init_cfg=dict(
            type='Pretrained', checkpoint='', prefix='backbone.')),
    head=dict(in_channels=960))
