# Any ImageNet-layout image folder (train/<class>/*, val/<class>/*), e.g. a
# few classes of ImageNet or Imagenette, at 64 px for CPU runs. Training
# ignores the labels; validation scores zero-shot accuracy with them.
# The folder comes from the environment: DATA_ROOT=/path/to/folder.
dataset_type = 'CustomDataset'
data_root = '{{$DATA_ROOT:data/imagefolder}}'
img_size = 64

# The crop both networks see. Multi-view children put it first:
# `{{_base_.shared_view}}`.
shared_view = [
    dict(
        type='RandomResizedCrop',
        scale=img_size,
        crop_ratio_range=(0.2, 1.),
        backend='pillow'),
    dict(type='RandomFlip', prob=0.5),
]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    *shared_view,
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=img_size, edge='short', backend='pillow'),
    dict(type='CenterCrop', crop_size=img_size),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=False,
    pin_memory=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    # A folder of 32k + 1 images would end the epoch on a batch of one,
    # which stops the BatchNorm1d of the neck (and loses the checkpoint).
    drop_last=True,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix='train',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=False,
    pin_memory=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix='val',
        pipeline=test_pipeline))
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
