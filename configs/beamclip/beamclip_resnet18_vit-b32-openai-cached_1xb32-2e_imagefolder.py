# The CPU image-folder run with cached teacher targets: the teacher runs once
# over 4 pre-sampled views per image, training replays the views and reads
# the targets (docs/teacher_cache.md). Build the cache, then train:
#   DATA_ROOT=/path/to/folder TEACHER_CACHE=/path/to/cache \
#       python tools/cache_teacher_targets.py CONFIG
#   DATA_ROOT=/path/to/folder TEACHER_CACHE=/path/to/cache \
#       python tools/train.py CONFIG
# Teacher overrides go to model.target_generator.teacher.* and another cache
# folder to model.target_generator.cache_dir (in both calls).
_base_ = ['./beamclip_resnet18_vit-b32-openai_1xb32-2e_imagefolder.py']

img_size = 64

model = dict(
    target_generator=dict(
        _delete_=True,
        type='CachedTeacher',
        # The one place this config names the teacher-target cache folder:
        # CachedViewHook gives it to ReplayCachedView, the cache tool writes
        # it.
        cache_dir='{{$TEACHER_CACHE:work_dirs/teacher_cache/vit-b32-openai_imagefolder}}',  # noqa: E501
        # The online teacher the cache is built with (and checked against).
        teacher={{_base_.model.target_generator}}))

# Random crop + flip become one cached view per image and epoch; the crop
# settings are the online config's and are recorded in the manifest.
# CachedViewHook adds the replayed view (cache_view) to PackInputs' keys.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='ReplayCachedView',
        scale=img_size,
        crop_ratio_range=(0.2, 1.),
        backend='pillow',
        flip_prob=0.5,
        view_sampling='epoch'),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

custom_hooks = [
    dict(
        type='PromptBankHook', classnames='dataset',
        templates='simple_imagenet'),
    dict(type='CachedViewHook'),
    # Stops a diverged run before it writes a poisoned checkpoint.
    dict(type='CheckFiniteHook', interval=50),
]

# Read by tools/cache_teacher_targets.py.
teacher_cache = dict(num_views=4, seed=0, shard_size=4096)
