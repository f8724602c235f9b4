# MoCo-style linear probe of a BeamCLIP ResNet-18 student, the protocol of
# SEED, CompRess, DisCo and BINGO (mmpretrain's MoCo v2 probe): frozen
# backbone, SGD momentum 0.9, weight decay 0, 100 epochs, batch 256 (8 x
# 32), lr x0.1 at epochs 60 and 80. Pass the distilled (or extracted)
# checkpoint with
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH
# One change: lr 0.1 on batch-normalised features (a parameter-free
# BatchNorm1d before the linear head, as MAE's probe) instead of lr 30 on
# raw ones. lr 30 is tuned to MoCo's feature scale; a distilled student's
# pooled features have another scale (the CPU benchmark's ResNet-18 probes
# diverged at lr 30), and the normalisation makes one lr right for any
# student. With running statistics at test time the BN is a fixed affine
# map, so the probe is still a linear classifier of the frozen features.
_base_ = [
    'mmpretrain::mocov2/benchmarks/resnet50_8xb32-linear-steplr-100e_in1k.py'
]
# mmpretrain's own tools/train.py loads the checkpoint with the plugin's
# loader fix only through this import (torch>=2.6 weights-only loading).
custom_imports = dict(imports=['mmbeamclip'], allow_failed_imports=False)

model = dict(
    backbone=dict(depth=18, frozen_stages=4, norm_eval=True),
    neck=dict(_delete_=True, type='PooledBatchNormNeck', in_channels=512),
    head=dict(in_channels=512))
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=0.))

# Whole batches only, as every shipped training loader.
train_dataloader = dict(drop_last=True)
auto_scale_lr = dict(base_batch_size=256)
randomness = dict(seed=0, deterministic=False)
