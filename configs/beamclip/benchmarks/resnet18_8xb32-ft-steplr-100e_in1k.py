# Full fine-tuning of a BeamCLIP ResNet-18 student: mmpretrain's stock
# supervised ResNet-18 recipe (SGD lr 0.1 per 256 images, 100 epochs, lr
# x0.1 at epochs 30, 60 and 90) with a stock ImageClassifier whose backbone
# starts from the student (nothing frozen). Pass the distilled (or
# extracted) checkpoint with
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = ['mmpretrain::resnet/resnet18_8xb32_in1k.py']
# mmpretrain's own tools/train.py loads the checkpoint with the plugin's
# loader fix only through this import (torch>=2.6 weights-only loading).
custom_imports = dict(imports=['mmbeamclip'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        init_cfg=dict(type='Pretrained', checkpoint='', prefix='backbone.')))

# Whole batches only, as every shipped training loader.
train_dataloader = dict(drop_last=True)
randomness = dict(seed=0, deterministic=False)
