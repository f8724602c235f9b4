# The ResNet-18 ImageNet-1k recipe with a MobileNetV2 student, one of the
# students SEED and CompRess report. Only the backbone changes: the neck
# reads its input width off the backbone. The optimizer and schedule are the
# ResNet-18 recipe's, not tuned for this student.
_base_ = ['./beamclip_resnet18_vit-b16-openai_8xb256-coslr-200e_in1k.py']

model = dict(backbone=dict(
        _delete_=True,
        type='MobileNetV2',
        widen_factor=1.0,
        norm_cfg=dict(type='SyncBN')))
