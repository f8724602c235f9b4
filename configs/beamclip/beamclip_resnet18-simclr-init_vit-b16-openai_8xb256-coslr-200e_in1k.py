# Two-stage BeamCLIP: stage 1 is a stock mmpretrain SimCLR run
# (configs/simclr/simclr_resnet18_16xb256-coslr-200e_in1k.py); this stage 2
# starts the ResNet-18 student from its backbone and trains CSM as usual.
# Pass the stage-1 checkpoint with
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH/epoch_200.pth
# See docs/ssl.md.
_base_ = ['./beamclip_resnet18_vit-b16-openai_8xb256-coslr-200e_in1k.py']

model = dict(
    backbone=dict(
        init_cfg=dict(
            type='Pretrained',
            checkpoint='work_dirs/simclr_resnet18_16xb256-coslr-200e_in1k/'
            'epoch_200.pth',
            # Only the SimCLR backbone: its projection neck and head are
            # not BeamCLIP's.
            prefix='backbone.')))
