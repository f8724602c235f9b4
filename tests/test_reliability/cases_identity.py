"""Bad-input catalogue: inputs whose identity changes under a reader, hangs,
and data that is silently skipped or too small to train (issue 19)."""
import json
import os
import pickle

import numpy as np
import torch
from case import Case
from cases_teachers import _cache, _copy_tiny
from mmpretrain.datasets import CustomDataset
from mmpretrain.models import MobileNetV2
from PIL import Image

from mmbeamclip.datasets.data_checks import SkippedFilesWarning, check_steps
from mmbeamclip.models.teachers import OpenCLIPTeacher, open_clip_teacher_id
from mmbeamclip.teacher_cache import CacheMismatchError, TeacherTargetCache
from mmbeamclip.teacher_cache.layout import shard_path
from mmbeamclip.utils.student_extraction import extract_student


def teacher_dir_device_link(ctx):
    folder = _copy_tiny(ctx, 'linked')
    # A weight-named link to a device: hashing it used to read forever.
    os.symlink('/dev/zero', os.path.join(folder, 'extra.bin'))
    open_clip_teacher_id('tiny', f'local-dir:{folder}')


def teacher_unknown_interpolation(ctx):
    folder = _copy_tiny(ctx, 'lanczos')
    path = os.path.join(folder, 'open_clip_config.json')
    with open(path) as f:
        config = json.load(f)
    config['preprocess_cfg']['interpolation'] = 'lanczos'
    with open(path, 'w') as f:
        json.dump(config, f)
    OpenCLIPTeacher('tiny', pretrained=f'local-dir:{folder}')


def cache_replaced_mid_run(ctx):
    cache_dir = _cache(ctx)
    # A data-loader worker gets a pickled cache and maps shards lazily.
    worker = pickle.loads(pickle.dumps(TeacherTargetCache(cache_dir)))
    os.rename(cache_dir, cache_dir + '.old')
    _cache(ctx, num_views=3)  # another cache built into the same folder
    worker.views(0)


def _edit_shard(ctx, kind, edit):
    cache_dir = _cache(ctx)
    path = shard_path(cache_dir, 0, kind)
    array = np.load(path)
    edit(array)
    np.save(path, array)  # same shape, same size: passes verify='size'
    return TeacherTargetCache(cache_dir, verify='size')


def size_verify_target_norm(ctx):

    def scale(emb):
        emb[3, 1] *= 6260

    _edit_shard(ctx, 'emb', scale).lookup([3], [1])


def size_verify_flip(ctx):

    def flip(views):
        views[2, 0, 4] = 2

    _edit_shard(ctx, 'views', flip).views(2)


def size_verify_box(ctx):

    def box(views):
        views[1, 1, :4] = (5, 5, 2, 9)  # x2 < x1

    _edit_shard(ctx, 'views', box).views(1)


def torchvision_mobilenet(ctx):
    state = {f'backbone.{k}': v for k, v in MobileNetV2().state_dict().items()}
    extract_student(dict(state_dict=state), torchvision=True)


def folder_skipped_images(ctx):
    folder = ctx.tmp_path / 'images' / 'cat'
    folder.mkdir(parents=True)
    image = Image.new('RGB', (8, 8))
    for name in ('a.png', 'b.webp', 'c.webp', 'd.tiff'):
        image.save(str(folder / name))
    CustomDataset(data_root=str(ctx.tmp_path / 'images'), lazy_init=False)


def fewer_images_than_batch(ctx):
    loader = torch.utils.data.DataLoader(
        list(range(3)), batch_size=4, drop_last=True)
    check_steps(loader)


CASES = [
    Case('teacher-dir-device-link', 'silent', teacher_dir_device_link,
         ValueError, ('extra.bin', 'not a regular file', '/dev/zero'),
         'a `local-dir:` teacher folder holding `extra.bin -> /dev/zero`: '
         'refused naming the file (fingerprinting hung forever); other '
         'files the teacher never loads are not read at all'),
    Case('teacher-unknown-interpolation', 'silent',
         teacher_unknown_interpolation, ValueError,
         ('interpolation', 'lanczos'),
         'a `preprocess_cfg` interpolation open_clip does not define: '
         'refused (the teacher follows `bilinear` / `bicubic` of its model '
         'instead of always resizing bicubic)'),
    Case('cache-replaced-mid-run', 'silent', cache_replaced_mid_run,
         CacheMismatchError, ('changed while in use', 'cache'),
         'a teacher-target cache rebuilt in its folder while a run reads it: '
         'a worker opening a shard refuses (crops from the new cache, '
         'targets from the old one before)'),
    Case('cache-size-verify-norm', 'silent', size_verify_target_norm,
         CacheMismatchError, ('norm', 'shard_00000.emb.npy', 'sample 3'),
         "`verify='size'` with a same-size shard holding a target of norm "
         '6260: refused when the target is looked up'),
    Case('cache-size-verify-flip', 'silent', size_verify_flip,
         CacheMismatchError, ('shard_00000.views.npy', 'flip'),
         "`verify='size'` with a view record whose flip is 2: refused when "
         'the view is replayed'),
    Case('cache-size-verify-box', 'silent', size_verify_box,
         CacheMismatchError, ('shard_00000.views.npy', 'x1<=x2'),
         "`verify='size'` with an inverted crop box: refused when the view "
         'is replayed'),
    Case('torchvision-export-mobilenet', 'silent', torchvision_mobilenet,
         ValueError, ('--torchvision', 'resnet'),
         '`extract_student.py --torchvision` of a MobileNetV2 student: '
         'refused (wrote a file of which 0 of 314 tensors load into '
         'torchvision)'),
    Case('folder-skipped-images', 'silent', folder_skipped_images,
         SkippedFilesWarning, ('3 files', '2 .webp', '1 .tiff'),
         'a data folder with `.webp` / `.tiff` images mmpretrain does not '
         'read: a warning with the count and extensions (skipped silently)'),
    Case('train-fewer-than-batch', 'silent', fewer_images_than_batch,
         ValueError, ('3 samples', 'batch_size=4', 'drop_last'),
         'fewer training images than one batch with `drop_last=True`: '
         'refused before training (trained 0 steps, saved "trained" '
         'checkpoints, rc 0)'),
]
