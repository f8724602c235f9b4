# The small CPU image-folder run with an EfficientNet-B0 student:
#   DATA_ROOT=/path/to/folder python tools/train.py \
#       configs/beamclip/beamclip_efficientnet-b0_vit-b32-openai_1xb32-2e_imagefolder.py
# Only the backbone changes: the neck reads its input width off it.
_base_ = ['./beamclip_resnet18_vit-b32-openai_1xb32-2e_imagefolder.py']

model = dict(backbone=dict(_delete_=True, type='EfficientNet', arch='b0'))
