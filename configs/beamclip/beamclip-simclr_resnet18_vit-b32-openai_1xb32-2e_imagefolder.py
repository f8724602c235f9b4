# Joint BeamCLIP + SimCLR on CPU, on any ImageNet-layout image folder:
#   DATA_ROOT=/path/to/folder python tools/train.py \
#       configs/beamclip/beamclip-simclr_resnet18_vit-b32-openai_1xb32-2e_imagefolder.py
# See docs/ssl.md.
_base_ = [
    './beamclip_resnet18_vit-b32-openai_1xb32-2e_imagefolder.py',
    '../_base_/datasets/simclr_views.py',
]

model = dict(
    ssl_neck=dict(
        type='NonLinearNeck',
        hid_channels=1024,
        out_channels=128,
        num_layers=2,
        norm_cfg=dict(type='BN1d')),
    ssl_head=dict(
        type='ContrastiveHead',
        loss=dict(type='CrossEntropyLoss'),
        temperature=0.1),
    ssl_weight=1.0)

# View 0: the base config's crop, shared by student and teacher. View 1: a
# SimCLR view for the student only. MultiView keeps the order of its
# pipelines: inputs[0] is the shared crop.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='MultiView',
        num_views=[1, 1],
        transforms=[{{_base_.shared_view}},
                    {{_base_.simclr_view_imagefolder}}]),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
