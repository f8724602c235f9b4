# Joint BeamCLIP + SimCLR on CPU, on any ImageNet-layout image folder:
#   DATA_ROOT=/path/to/folder python tools/train.py \
#       configs/beamclip/beamclip-simclr_resnet18_vit-b32-openai_1xb32-2e_imagefolder.py
# See docs/ssl.md.
_base_ = ['./beamclip_resnet18_vit-b32-openai_1xb32-2e_imagefolder.py']

img_size = 64

model = dict(
    ssl_neck=dict(
        type='NonLinearNeck',
        in_channels=512,
        hid_channels=1024,
        out_channels=128,
        num_layers=2,
        with_avg_pool=True,
        norm_cfg=dict(type='BN1d')),
    ssl_head=dict(
        type='ContrastiveHead',
        loss=dict(type='CrossEntropyLoss'),
        temperature=0.1),
    ssl_weight=1.0)

# View 0: the base config's crop, shared by student and teacher. View 1: a
# SimCLR view for the student only (no blur: pointless at 64 px).
shared_view = [
    dict(
        type='RandomResizedCrop',
        scale=img_size,
        crop_ratio_range=(0.2, 1.),
        backend='pillow'),
    dict(type='RandomFlip', prob=0.5),
]
ssl_view = [
    dict(type='RandomResizedCrop', scale=img_size, backend='pillow'),
    dict(type='RandomFlip', prob=0.5),
    dict(
        type='RandomApply',
        transforms=[
            dict(
                type='ColorJitter',
                brightness=0.8,
                contrast=0.8,
                saturation=0.8,
                hue=0.2)
        ],
        prob=0.8),
    dict(
        type='RandomGrayscale',
        prob=0.2,
        keep_channels=True,
        channel_weights=(0.114, 0.587, 0.2989)),
]
# MultiView keeps the order of its pipelines: inputs[0] is the shared crop.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='MultiView',
        num_views=[1, 1],
        transforms=[shared_view, ssl_view]),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
