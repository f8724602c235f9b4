# Full fine-tuning of a BeamCLIP ResNet-18 student on any ImageNet-layout
# image folder with labels (train/<class>/*, val/<class>/*), on CPU:
#   DATA_ROOT=/path/to/folder NUM_CLASSES=10 python tools/train.py \
#       configs/beamclip/benchmarks/resnet18_1xb32-ft-steplr-2e_imagefolder.py \
#       --cfg-options model.backbone.init_cfg.checkpoint=PATH
# A stock ImageClassifier, the student's backbone as its start, nothing
# frozen; the 64-px crops of the image-folder BeamCLIP configs.
_base_ = [
    'mmpretrain::_base_/models/resnet18.py',
    '../../_base_/datasets/imagefolder_bs32_beamclip.py',
    'mmpretrain::_base_/schedules/imagenet_bs256.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmbeamclip'], allow_failed_imports=False)

num_classes = int('{{$NUM_CLASSES:10}}')
model = dict(
    # The BeamCLIP student's input normalisation.
    data_preprocessor=dict(
        type='ClsDataPreprocessor',
        num_classes=num_classes,
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True),
    backbone=dict(
        init_cfg=dict(type='Pretrained', checkpoint='', prefix='backbone.')),
    head=dict(num_classes=num_classes, topk=(1, )))

# SGD lr 0.1 per 256 images, scaled linearly to 32.
optim_wrapper = dict(optimizer=dict(lr=0.0125))
param_scheduler = dict(
    type='MultiStepLR', by_epoch=True, milestones=[1], gamma=0.1)
train_cfg = dict(by_epoch=True, max_epochs=2, val_interval=1)
auto_scale_lr = dict(base_batch_size=32)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=2))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0, deterministic=False)
