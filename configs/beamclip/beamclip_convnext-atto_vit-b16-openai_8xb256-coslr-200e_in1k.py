# The ResNet-18 ImageNet-1k recipe with a ConvNeXt-atto student (320-d
# features, pooled by the backbone itself; LayerNorm, so no SyncBN). Only
# the backbone changes: the neck reads its input width off the backbone and
# skips pooling. The optimizer and schedule are the ResNet-18 recipe's, not
# tuned for this student.
_base_ = ['./beamclip_resnet18_vit-b16-openai_8xb256-coslr-200e_in1k.py']

model = dict(backbone=dict(_delete_=True, type='ConvNeXt', arch='atto'))
