# Linear probe of a BeamCLIP ResNet-18 student: mmpretrain's stock SimCLR/BYOL
# recipe (frozen backbone, LARS lr 1.6, cosine, 90 epochs, global batch 4096)
# with a fixed seed. The student is a stock ResNet. Pass the distilled (or
# extracted) checkpoint with
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = [
    'mmpretrain::simclr/benchmarks/resnet50_8xb512-linear-coslr-90e_in1k.py'
]
# mmpretrain's own tools/train.py (and dist_train.sh) load checkpoints with
# the plugin's loader fix only through this import (torch>=2.6 refuses
# mmengine checkpoints in weights-only mode).
custom_imports = dict(imports=['mmbeamclip'], allow_failed_imports=False)

model = dict(
    backbone=dict(depth=18, frozen_stages=4, norm_eval=True),
    head=dict(in_channels=512))

# Whole batches only, as every shipped training loader.
train_dataloader = dict(drop_last=True)
auto_scale_lr = dict(base_batch_size=4096)
randomness = dict(seed=0, deterministic=False)
