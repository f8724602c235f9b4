# Joint BeamCLIP + SimCLR: L = L_CSM + ssl_weight * L_SimCLR, ResNet-18
# student, CLIP ViT-B/16 (OpenAI) teacher, ImageNet-1k, 8 GPUs x 256 images.
# The teacher sees only the shared view; the SimCLR view costs one student
# forward. See docs/ssl.md.
_base_ = ['./beamclip_resnet18_vit-b16-openai_8xb256-coslr-200e_in1k.py']

model = dict(
    # SimCLR's projection and NT-Xent head (mmpretrain's SimCLR config).
    ssl_neck=dict(
        type='NonLinearNeck',
        in_channels=512,
        hid_channels=2048,
        out_channels=128,
        num_layers=2,
        with_avg_pool=True,
        norm_cfg=dict(type='SyncBN')),
    ssl_head=dict(
        type='ContrastiveHead',
        loss=dict(type='CrossEntropyLoss'),
        temperature=0.1),
    # The paper does not give lambda; 1.0 weighs both terms as they come.
    ssl_weight=1.0)

# Two views per image. View 0 is BeamCLIP's usual MoCo-v2 "aug-plus" crop,
# shared by student and teacher (so the CSM term is unchanged); view 1 is an
# independent SimCLR view that only the student sees.
shared_view = [
    dict(
        type='RandomResizedCrop',
        scale=224,
        crop_ratio_range=(0.2, 1.),
        backend='pillow'),
    dict(
        type='RandomApply',
        transforms=[
            dict(
                type='ColorJitter',
                brightness=0.4,
                contrast=0.4,
                saturation=0.4,
                hue=0.1)
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
    dict(type='RandomFlip', prob=0.5),
]
# mmpretrain's SimCLR view (configs/_base_/datasets/imagenet_bs32_simclr.py).
ssl_view = [
    dict(type='RandomResizedCrop', scale=224, backend='pillow'),
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
