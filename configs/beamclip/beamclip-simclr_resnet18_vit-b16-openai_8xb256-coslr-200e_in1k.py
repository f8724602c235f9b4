# Joint BeamCLIP + SimCLR: L = L_CSM + ssl_weight * L_SimCLR, ResNet-18
# student, CLIP ViT-B/16 (OpenAI) teacher, ImageNet-1k, 8 GPUs x 256 images.
# The teacher sees only the shared view; the SimCLR view costs one student
# forward. See docs/ssl.md.
_base_ = [
    './beamclip_resnet18_vit-b16-openai_8xb256-coslr-200e_in1k.py',
    '../_base_/datasets/simclr_views.py',
]

model = dict(
    # SimCLR's projection and NT-Xent head (mmpretrain's SimCLR config);
    # in_channels is read off the backbone.
    ssl_neck=dict(
        type='NonLinearNeck',
        hid_channels=2048,
        out_channels=128,
        num_layers=2,
        norm_cfg=dict(type='SyncBN')),
    ssl_head=dict(
        type='ContrastiveHead',
        loss=dict(type='CrossEntropyLoss'),
        temperature=0.1),
    # The paper does not give lambda; 1.0 weighs both terms as they come.
    ssl_weight=1.0)

# Two views per image. View 0 is the base config's MoCo-v2 "aug-plus" crop,
# shared by student and teacher (so the CSM term is unchanged); view 1 is an
# independent SimCLR view that only the student sees. MultiView keeps the
# order of its pipelines: inputs[0] is the shared crop.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='MultiView',
        num_views=[1, 1],
        transforms=[{{_base_.shared_view}}, {{_base_.simclr_view_in1k}}]),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
