# Quality benchmark row "BeamCLIP CSM + SSL": the CSM row plus mmpretrain's
# SimCLR term on a second, student-only view (joint reading, docs/ssl.md),
# ssl_weight 1. View 0 is the CSM row's crop (the teacher target belongs to
# the whole image); view 1 is the SimCLR row's augmentation.
_base_ = ['./csm_resnet18.py']

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

shared_view = [
    dict(
        type='RandomResizedCrop',
        scale=img_size,
        crop_ratio_range=(0.35, 1.),
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
    dict(
        type='GaussianBlur',
        magnitude_range=(0.1, 2.0),
        magnitude_std='inf',
        prob=0.5),
]
train_dataloader = dict(
    dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        dict(
            type='MultiView',
            num_views=[1, 1],
            transforms=[shared_view, ssl_view]),
        dict(type='PackInputs'),
    ]))
