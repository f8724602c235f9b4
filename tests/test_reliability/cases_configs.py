"""Bad-input rows for configs and the BeamCLIP model (students, necks)."""
from case import Case
from mmpretrain.registry import MODELS

import mmbeamclip  # noqa: F401


def _model_cfg(ctx, **changes):
    from conftest import tiny_model_cfg
    cfg = tiny_model_cfg(ctx.tiny_teacher_cfg)
    for key, value in changes.items():
        section, _, name = key.partition('__')
        if name:
            cfg[section] = dict(cfg[section], **{name: value})
        else:
            cfg[section] = value
    return cfg


def _build(**changes):
    return lambda ctx: MODELS.build(_model_cfg(ctx, **changes))


def _zero_byte_image(ctx):
    from conftest import write_image_folder
    from mmpretrain.registry import DATASETS
    root = write_image_folder(ctx.tmp_path / 'images')
    empty = ctx.tmp_path / 'images' / 'train' / 'n01440764' / '0.JPEG'
    empty.write_bytes(b'')
    dataset = DATASETS.build(
        dict(
            type='CustomDataset',
            data_root=root,
            data_prefix='train',
            pipeline=[dict(type='LoadImageFromFile')]))
    for i in range(len(dataset)):
        dataset[i]


CASES = [
    Case(
        id='neck-in-channels-mismatch',
        category='traceback',
        run=_build(neck__in_channels=256),
        expect=ValueError,
        words=('model.neck.in_channels=256', '512'),
        what='`neck.in_channels` that is not the student\'s output width '
        '(was a shape error at the first step): refused when the model is '
        'built, with the width to use; left out, it is read off the '
        'backbone'),
    Case(
        id='neck-pools-pooled-student',
        category='traceback',
        run=_build(
            backbone=dict(type='ConvNeXt', arch='atto'),
            neck__in_channels=None,
            neck__with_avg_pool=True),
        expect=ValueError,
        words=('with_avg_pool=True', 'pooled', '320'),
        what='`with_avg_pool=True` on a student that outputs pooled '
        'vectors (ConvNeXt, a ViT class token): refused at build'),
    Case(
        id='student-token-sequence',
        category='traceback',
        run=_build(
            backbone=dict(
                type='VisionTransformer',
                arch=dict(
                    embed_dims=48,
                    num_layers=1,
                    num_heads=2,
                    feedforward_channels=96),
                img_size=32,
                patch_size=8,
                out_type='raw'),
            neck__in_channels=None),
        expect=ValueError,
        words=('token sequence', "out_type='cls_token'"),
        what='a ViT student with `out_type=\'raw\'` (tokens the neck would '
        'pool as an image): refused at build, naming the setting to use'),
    Case(
        id='ssl-neck-in-channels-mismatch',
        category='traceback',
        run=_build(
            ssl_neck=dict(
                type='NonLinearNeck',
                in_channels=2048,
                hid_channels=16,
                out_channels=8),
            ssl_head=dict(
                type='ContrastiveHead',
                loss=dict(type='CrossEntropyLoss'),
                temperature=0.1)),
        expect=ValueError,
        words=('model.ssl_neck.in_channels=2048', '512'),
        what='an SSL neck of the wrong width (a ResNet-50 config on a '
        'ResNet-18): refused at build'),
    Case(
        id='neck-out-channels-not-teacher-dim',
        category='clear-error',
        run=_build(neck__out_channels=64),
        expect=ValueError,
        words=('neck.out_channels=32', '64'),
        what='a neck that projects to another size than the teacher\'s '
        'embedding: refused at build with the size to use'),
    Case(
        id='model-level-init-cfg',
        category='clear-error',
        run=_build(init_cfg=dict(type='Kaiming', layer='Conv2d')),
        expect=ValueError,
        words=('init_cfg', 'teacher'),
        what='a model-level `init_cfg` (would re-initialise the frozen '
        'teacher): refused, pointing at the backbone\'s `init_cfg`'),
    Case(
        id='zero-byte-image',
        category='traceback',
        run=_zero_byte_image,
        expect=ValueError,
        words=('0.JPEG', '0 bytes', 'could not read the image'),
        what='a zero-byte (or undecodable) image in the data: an error '
        'naming the file and its size, instead of OpenCV\'s `!buf.empty()` '
        'or Pillow\'s "cannot identify image file <BytesIO>"'),
]
