# Quality benchmark row "supervised (labels)": the reference ceiling at the
# same budget. A stock mmpretrain ImageClassifier trained with the labels.
_base_ = ['./_base_/quality_common.py']

model = dict(
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
val_evaluator = dict(type='Accuracy', topk=(1, ))
val_cfg = dict()
