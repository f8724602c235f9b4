# Two-stage BeamCLIP on CPU. Stage 1, stock SimCLR:
#   DATA_ROOT=/path/to/folder python tools/train.py \
#       configs/simclr/simclr_resnet18_1xb32-2e_imagefolder.py
# Stage 2, this config, starting the student from the stage-1 backbone:
#   DATA_ROOT=/path/to/folder \
#   SSL_CKPT=work_dirs/simclr_resnet18_1xb32-2e_imagefolder/epoch_2.pth \
#   python tools/train.py \
#       configs/beamclip/beamclip_resnet18-simclr-init_vit-b32-openai_1xb32-2e_imagefolder.py
# See docs/ssl.md.
_base_ = ['./beamclip_resnet18_vit-b32-openai_1xb32-2e_imagefolder.py']

model = dict(
    backbone=dict(
        init_cfg=dict(
            type='Pretrained',
            checkpoint='{{$SSL_CKPT:work_dirs/simclr_resnet18_1xb32-2e_imagefolder/epoch_2.pth}}',  # noqa: E501
            prefix='backbone.')))
