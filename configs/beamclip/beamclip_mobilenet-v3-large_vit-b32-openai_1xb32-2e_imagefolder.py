# The small CPU image-folder run with a MobileNetV3-Large student:
#   DATA_ROOT=/path/to/folder python tools/train.py \
#       configs/beamclip/beamclip_mobilenet-v3-large_vit-b32-openai_1xb32-2e_imagefolder.py
# Only the backbone changes: the neck reads its input width off it.
_base_ = ['./beamclip_resnet18_vit-b32-openai_1xb32-2e_imagefolder.py']

model = dict(backbone=dict(_delete_=True, type='MobileNetV3', arch='large'))
