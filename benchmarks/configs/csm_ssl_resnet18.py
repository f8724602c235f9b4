# Quality benchmark row "BeamCLIP CSM + SSL": the shipped joint BeamCLIP +
# SimCLR config (docs/ssl.md; ssl_weight 1), with view-matched teacher
# targets. View 0, shared by student and teacher, is the cached view the
# CSM row replays (same cache, same recipe); view 1 is the base config's
# student-only SimCLR view, drawn from that replayed crop: mmpretrain's
# MultiView keeps only `img` of each view, so the replay (and its
# `cache_view`) must run before it.
_base_ = [
    '../../configs/beamclip/'
    'beamclip-simclr_resnet18_vit-b32-openai_1xb32-2e_imagefolder.py'
]

# benchmarks/quality.py points the teacher at the cache it builds;
# CachedViewHook gives the replayed view the same folder and packs
# `cache_view`.
model = dict(
    target_generator=dict(
        _delete_=True,
        type='CachedTeacher',
        cache_dir='work_dirs/teacher_cache',
        teacher={{_base_.model.target_generator}}))
# The recipe of the cached config's ReplayCachedView: the cache checks it.
replay_view = dict(
    type='ReplayCachedView',
    scale={{_base_.img_size}},
    crop_ratio_range=(0.2, 1.),
    backend='pillow',
    flip_prob=0.5,
    view_sampling='epoch')
train_dataloader = dict(
    dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        replay_view,
        dict(
            type='MultiView',
            num_views=[1, 1],
            transforms=[[], {{_base_.simclr_view_imagefolder}}]),
        dict(type='PackInputs'),
    ]))
custom_hooks = [
    dict(
        type='PromptBankHook', classnames='dataset',
        templates='simple_imagenet'),
    dict(type='CachedViewHook'),
]
