# Quality benchmark row "supervised (labels)": the reference ceiling at the
# same budget. A stock mmpretrain ImageClassifier trained with the labels on
# the shipped image-folder config's data and crop + flip augmentation (the
# views the teacher rows replay), instead of a teacher.
_base_ = [
    '../../configs/beamclip/'
    'beamclip_resnet18_vit-b32-openai_1xb32-2e_imagefolder.py'
]

model = dict(
    _delete_=True,
    type='ImageClassifier',
    data_preprocessor=dict(
        type='ClsDataPreprocessor',
        num_classes=10,
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True),
    backbone=dict(type='ResNet', depth=18, out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=512,
        loss=dict(type='CrossEntropyLoss'),
        topk=(1, )))
# No prompt bank: the classifier's own head is validated.
custom_hooks = []
