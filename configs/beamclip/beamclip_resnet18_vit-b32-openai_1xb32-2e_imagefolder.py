# A small CPU run on any ImageNet-layout image folder (train/<class>/*,
# val/<class>/*), e.g. a few classes of ImageNet or Imagenette:
#   DATA_ROOT=/path/to/folder python tools/train.py \
#       configs/beamclip/beamclip_resnet18_vit-b32-openai_1xb32-2e_imagefolder.py
# Class folders named by WordNet id get their ImageNet names as prompts.
_base_ = [
    '../_base_/models/beamclip_resnet18.py',
    '../_base_/datasets/imagefolder_bs32_beamclip.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmbeamclip'], allow_failed_imports=False)

model = dict(
    # Plain BN: SyncBN needs a GPU once two CPU processes train together.
    backbone=dict(norm_cfg=dict(type='BN')),
    neck=dict(hid_channels=1024, norm_cfg=dict(type='BN1d')),
    target_generator=dict(model_name='ViT-B-32-quickgelu', precision='fp32'))

# Prompts for the dataset's own classes, CLIP's 7-template ensemble.
custom_hooks = [
    dict(
        type='PromptBankHook', classnames='dataset',
        templates='simple_imagenet'),
    # Stops a diverged run before it writes a poisoned checkpoint.
    dict(type='CheckFiniteHook', interval=50),
]

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.03, momentum=0.9, weight_decay=1e-4))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=2, by_epoch=True, begin=0, end=2)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=2, val_interval=1)
val_cfg = dict()
test_cfg = dict()

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=2))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
