# Stage 1 on CPU: stock SimCLR with a ResNet-18 on any ImageNet-layout image
# folder (train/<class>/*), the companion of the small BeamCLIP configs:
#   DATA_ROOT=/path/to/folder python tools/train.py \
#       configs/simclr/simclr_resnet18_1xb32-2e_imagefolder.py
_base_ = [
    './simclr_resnet18_16xb256-coslr-200e_in1k.py',
    '../_base_/datasets/simclr_views.py',
]

data_root = '{{$DATA_ROOT:data/imagefolder}}'
img_size = 64  # the crop of simclr_view_imagefolder

model = dict(
    # Plain BN: SyncBN needs a GPU once two CPU processes train together.
    backbone=dict(norm_cfg=dict(type='BN')),
    neck=dict(hid_channels=1024, norm_cfg=dict(type='BN1d')))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='MultiView',
        num_views=2,
        transforms=[{{_base_.simclr_view_imagefolder}}]),
    dict(type='PackInputs')
]
train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=False,
    pin_memory=False,
    drop_last=True,
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root=data_root,
        data_prefix='train',
        pipeline=train_pipeline))

# LARS lr 4.8 per 4096 images, scaled linearly to 32 (the batch that
# --auto-scale-lr scales from).
optim_wrapper = dict(optimizer=dict(lr=0.0375))
auto_scale_lr = dict(base_batch_size=32)
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=2, by_epoch=True, begin=0, end=2)
]
train_cfg = dict(max_epochs=2)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=2))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
