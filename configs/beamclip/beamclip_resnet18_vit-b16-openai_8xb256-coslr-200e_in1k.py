# BeamCLIP CSM distillation of CLIP ViT-B/16 into ResNet-18 on ImageNet-1k
# (no labels used for training; labels only for the zero-shot val metric).
# 8 GPUs x 256 images; SGD + cosine over 200 epochs (SEED / DisCo length).
_base_ = [
    '../_base_/models/beamclip_resnet18.py',
    '../_base_/datasets/imagenet_bs256_beamclip.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmbeamclip'], allow_failed_imports=False)

# Anchors: the 1000 ImageNet class names x CLIP's 80 templates, averaged per
# class (K = 1000). Built once on rank 0, cached, broadcast.
custom_hooks = [
    dict(
        type='PromptBankHook',
        classnames='imagenet',
        templates='openai_imagenet',
        aggregate='mean'),
    # Stops a diverged run before it writes a poisoned checkpoint.
    dict(type='CheckFiniteHook', interval=50),
]

# Mixed precision (fp16 autocast with dynamic loss scaling), as GPU users run
# it: the teacher forward is most of a step's compute and runs in fp16 (see
# its `precision`); the CSM loss computes its softmaxes in fp32 whatever the
# autocast dtype, so the temperature-sharpened teacher targets (tau_t 0.01)
# do not overflow. On Ampere or newer, dtype='bfloat16' (with the teacher's
# precision='bf16') needs no loss scaling.
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    # lr 0.03 per 256 images (MoCo/SEED), linearly scaled to 2048.
    optimizer=dict(type='SGD', lr=0.24, momentum=0.9, weight_decay=1e-4))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-3,
        by_epoch=True,
        begin=0,
        end=5,
        convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=195, by_epoch=True, begin=5, end=200)
]
auto_scale_lr = dict(base_batch_size=2048)

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=200, val_interval=10)
val_cfg = dict()
test_cfg = dict()

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=100),
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
randomness = dict(seed=0, diff_rank_seed=True)
