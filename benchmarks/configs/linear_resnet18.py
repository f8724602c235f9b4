# Linear probe shared by every quality-benchmark row: mmpretrain's stock
# MoCo-v2 linear-eval schedule (frozen backbone incl. BN, SGD momentum 0.9,
# no weight decay, x0.1 at 60% and 80% of the schedule, RandomResizedCrop +
# flip) on a ResNet-18, with MAE's parameter-free BatchNorm on the pooled
# features before the linear head (mmpretrain's ClsBatchNormNeck, here after
# global pooling) and therefore lr 0.1 at batch 256 (the MoCo protocol's
# "BN'd head" setting) instead of lr 30.
# Why: lr 30 assumes MoCo-scale features; on our random-init and distilled
# ResNet-18s it diverged (training loss ~1e7). With normalised features one
# lr is right for every backbone, whatever the scale of its features.
# The SimCLR LARS recipe (configs/beamclip/benchmarks/resnet18_8xb512-...) is
# not used either: LARS's trust ratio (eta=1e-3) moves a fresh head by ~0.1%
# per step, which needs its full 90-epoch schedule.
# quality.py shortens the schedule per profile, scales the lr linearly with
# the batch (auto_scale_lr), and sets model.backbone.init_cfg to the row's
# checkpoint (None = random init). The converged logistic-regression probe
# (beamclip_bench.runner.logreg_probe) is the benchmark's main probe; this
# stock recipe is run where the profile asks for it (stock_probe).
_base_ = [
    'mmpretrain::mocov2/benchmarks/resnet50_8xb32-linear-steplr-100e_in1k.py'
]
custom_imports = dict(imports=['mmbeamclip'], allow_failed_imports=False)

model = dict(
    backbone=dict(depth=18, frozen_stages=4, norm_eval=True),
    neck=dict(_delete_=True, type='PooledBatchNormNeck', in_channels=512),
    head=dict(in_channels=512, num_classes=10, topk=(1, )),
    data_preprocessor=dict(num_classes=10))
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=0.))
# The data loaders and pipelines are mmpretrain's ImageNet ones (pillow
# resize); quality.py points them at the probe and val subsets and sets the
# image size.
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator

max_epochs = 10
param_scheduler = [
    dict(
        type='MultiStepLR',
        by_epoch=True,
        milestones=[int(0.6 * max_epochs), int(0.8 * max_epochs)],
        gamma=0.1)
]
train_cfg = dict(
    _delete_=True,
    type='EpochBasedTrainLoop',
    max_epochs=max_epochs,
    val_interval=max_epochs)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(type='CheckpointHook', interval=max_epochs,
                    max_keep_ckpts=1))
auto_scale_lr = dict(base_batch_size=256, enable=True)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0, deterministic=False)
