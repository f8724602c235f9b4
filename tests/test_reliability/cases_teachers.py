"""Bad-input catalogue: teachers and teacher-target caches."""
import os
import shutil

import numpy as np
import torch
from case import Case
from mmengine.registry import init_default_scope
from mmpretrain.registry import DATASETS, MODELS
from mmpretrain.structures import DataSample
from PIL import Image

import mmbeamclip  # noqa: F401
from mmbeamclip.datasets.transforms import ReplayCachedView
from mmbeamclip.models.teachers import (OpenCLIPTeacher, open_clip_teacher_id,
                                        stage_open_clip)
from mmbeamclip.teacher_cache import (TEACHER_CACHE_VERSION,
                                      CacheMismatchError, CacheMissError,
                                      TeacherTargetCache, build_teacher_cache,
                                      dataset_fingerprint)
from mmbeamclip.teacher_cache.layout import (shard_path, write_manifest,
                                             write_shard)

init_default_scope('mmpretrain')


def _args(ctx, **kw):
    cfg = dict(ctx.tiny_teacher_cfg, **kw)
    cfg.pop('type')
    return cfg


def _tiny_dir(ctx):
    return ctx.tiny_teacher_cfg['pretrained'][len('local-dir:'):]


def _copy_tiny(ctx, name):
    return shutil.copytree(_tiny_dir(ctx), str(ctx.tmp_path / name))


def _cache(ctx, num_samples=6, num_views=2, spec=None, dataset=None,
           complete=True):
    """A small cache in the real format (random unit targets)."""
    cache_dir = str(ctx.tmp_path / 'cache')
    rng = np.random.default_rng(0)
    emb = rng.standard_normal((num_samples, num_views, 32))
    emb /= np.linalg.norm(emb, axis=-1, keepdims=True)
    write_shard(cache_dir, 0, emb.astype(np.float16),
                np.zeros((num_samples, num_views, 5), np.int32))
    teacher = ctx.tiny_teacher_cfg
    write_manifest(
        cache_dir,
        dict(
            version=TEACHER_CACHE_VERSION,
            teacher_id=open_clip_teacher_id(teacher['model_name'],
                                            teacher['pretrained']),
            embed_dim=32,
            dataset=dataset or dict(
                type='synthetic', num_samples=num_samples,
                file_list_sha256='', file_stats_sha256=''),
            views=dict(num_views=num_views, seed=0, spec=spec or {}),
            shard_size=num_samples,
            dtype='float16',
            complete=complete))
    return cache_dir


def _cached_teacher(ctx, cache_dir):
    return MODELS.build(
        dict(type='CachedTeacher', cache_dir=cache_dir,
             teacher=ctx.tiny_teacher_cfg))


# --------------------------------------------------------------- teachers
def garbage_weights(ctx):
    folder = _copy_tiny(ctx, 'garbage')
    with open(os.path.join(folder, 'open_clip_pytorch_model.bin'), 'wb') as f:
        f.write(b'\xff\xfe not a checkpoint' * 8)
    OpenCLIPTeacher('tiny', pretrained=f'local-dir:{folder}')


def non_utf8_config(ctx):
    folder = _copy_tiny(ctx, 'bad_config')
    with open(os.path.join(folder, 'open_clip_config.json'), 'wb') as f:
        f.write(b'\xff\xfe{')
    OpenCLIPTeacher('tiny', pretrained=f'local-dir:{folder}')


def wrong_architecture(ctx):
    OpenCLIPTeacher(
        'RN50',
        pretrained=os.path.join(_tiny_dir(ctx),
                                'open_clip_pytorch_model.bin'))


def unknown_precision(ctx):
    OpenCLIPTeacher(**_args(ctx, precision='fp8'))


def zero_text_batch(ctx):
    OpenCLIPTeacher(**_args(ctx, text_batch_size=0))


def random_init(ctx):
    OpenCLIPTeacher(**_args(ctx, pretrained=None))


def unknown_preprocessor(ctx):

    class MyPreprocessor:
        pass

    OpenCLIPTeacher(**_args(ctx)).follow_preprocessor(MyPreprocessor())


def zero_std(ctx):
    preprocessor = MODELS.build(
        dict(type='SelfSupDataPreprocessor', mean=[0, 0, 0], std=[1, 0, 1]))
    OpenCLIPTeacher(**_args(ctx)).follow_preprocessor(preprocessor)


def stage_read_only(ctx):
    if os.geteuid() == 0:
        parent = '/sys'  # read-only even for root
    else:
        parent = str(ctx.tmp_path / 'ro')
        os.makedirs(parent)
        os.chmod(parent, 0o555)
    stage_open_clip('RN50', 'openai', os.path.join(parent, 'clip', 'rn50'))


# ----------------------------------------------------------------- caches
def nan_shard(ctx):
    cache_dir = _cache(ctx)
    path = shard_path(cache_dir, 0, 'emb')
    emb = np.load(path)
    emb[2, 1] = np.nan
    np.save(path, emb)
    _cached_teacher(ctx, cache_dir)


def edited_shard(ctx):
    cache_dir = _cache(ctx)
    path = shard_path(cache_dir, 0, 'emb')
    emb = np.load(path)
    np.save(path, emb[::-1].copy())  # still finite unit vectors
    _cached_teacher(ctx, cache_dir)


def truncated_shard(ctx):
    cache_dir = _cache(ctx)
    path = shard_path(cache_dir, 0, 'emb')
    with open(path, 'r+b') as f:
        f.truncate(os.path.getsize(path) // 2)
    _cached_teacher(ctx, cache_dir)


def deleted_shard(ctx):
    cache_dir = _cache(ctx)
    os.remove(shard_path(cache_dir, 0, 'views'))
    _cached_teacher(ctx, cache_dir)


def images_changed(ctx):
    folder = ctx.tmp_path / 'images' / 'n01440764'
    os.makedirs(folder)
    for i in range(3):
        Image.fromarray(np.full((20, 20, 3), 40 * i, np.uint8)).save(
            folder / f'{i}.png')
    dataset = DATASETS.build(
        dict(type='CustomDataset', data_root=str(ctx.tmp_path / 'images'),
             pipeline=[]))
    cache_dir = _cache(ctx, 3, dataset=dataset_fingerprint(dataset))
    # Same name, other pixels (and another modification time).
    Image.fromarray(np.full((21, 20, 3), 255, np.uint8)).save(folder / '1.png')
    stat = os.stat(folder / '1.png')
    os.utime(folder / '1.png', (stat.st_atime, stat.st_mtime + 5))
    TeacherTargetCache(cache_dir).check(dataset=dataset_fingerprint(dataset))


def cache_miss(ctx):
    teacher = _cached_teacher(ctx, _cache(ctx))
    teacher(
        torch.zeros(1, 3, 8, 8),
        [DataSample(metainfo=dict(sample_idx=6, cache_view=0))])


def no_cached_view_hook(ctx):
    replay = ReplayCachedView(
        cache_dir=str(ctx.tmp_path / 'cache'), scale=8,
        view_sampling='random')
    _cache(ctx, spec=replay.view_spec())
    replay(dict(img=np.zeros((16, 16, 3), np.uint8), sample_idx=0))


def zero_shard_size(ctx):
    build_teacher_cache(None, None, None, str(ctx.tmp_path / 'c'),
                        shard_size=0)


def incomplete_cache(ctx):
    _cached_teacher(ctx, _cache(ctx, complete=False))


def other_teacher(ctx):
    cache_dir = _cache(ctx)
    MODELS.build(
        dict(type='CachedTeacher', cache_dir=cache_dir,
             teacher=dict(ctx.tiny_teacher_cfg, precision='bf16')))


def _family_without_tokenizer(ctx, family):
    from teacher_families import TEACHER_FAMILIES
    cfg = TEACHER_FAMILIES[family](str(ctx.tmp_path / 'model'))
    folder = cfg['pretrained'][len('local-dir:'):]
    for name in ('tokenizer.json', 'tokenizer_config.json', 'vocab.txt'):
        if os.path.exists(os.path.join(folder, name)):
            os.remove(os.path.join(folder, name))
    MODELS.build(cfg)


def hf_tokenizer_no_vocab(ctx):
    _family_without_tokenizer(ctx, 'hf-text-tower-clip')


def hf_tokenizer_files_missing(ctx):
    _family_without_tokenizer(ctx, 'siglip')


CASES = [
    Case('teacher-garbage-weights', 'traceback', garbage_weights, ValueError,
         ('open_clip_pytorch_model.bin', 'corrupt'),
         'a weight file of garbage bytes: a clear error naming the file, '
         'before open_clip unpickles it'),
    Case('teacher-non-utf8-config', 'traceback', non_utf8_config, ValueError,
         ('open_clip_config.json', 'utf-8'),
         'a `local-dir:` config that is not UTF-8 JSON: the file is named'),
    Case('teacher-wrong-architecture', 'traceback', wrong_architecture,
         ValueError, ('do not fit', "'RN50'", 'open_clip_pytorch_model.bin'),
         'RN50 given another model\'s weights: "the weights in FILE do not '
         'fit RN50", not a state-dict dump'),
    Case('teacher-unknown-precision', 'silent', unknown_precision,
         ValueError, ('fp8', 'fp32', 'pure_bf16'),
         "`precision='fp8'` (any unknown precision): refused with the known "
         'list, instead of running fp32 under an fp8 id'),
    Case('teacher-text-batch-size-0', 'traceback', zero_text_batch,
         ValueError, ('text_batch_size=0', '>= 1'),
         '`text_batch_size=0`: refused when the teacher is built'),
    Case('teacher-random-init', 'clear-error', random_init, ValueError,
         ('pretrained=None', 'allow_random_init'),
         '`pretrained=None`: never a silent random teacher'),
    Case('teacher-unknown-preprocessor', 'silent', unknown_preprocessor,
         TypeError, ('MyPreprocessor', 'RGB'),
         'a data preprocessor whose normalisation and channel order cannot '
         'be read: refused instead of assuming ImageNet RGB'),
    Case('teacher-preprocessor-zero-std', 'traceback', zero_std, ValueError,
         ('std', 'zero', 'cannot be undone'),
         'a student normalisation that cannot be inverted (zero std): '
         'refused when the model is built'),
    Case('teacher-stage-read-only', 'traceback', stage_read_only,
         PermissionError, ('not writable', 'rn50'),
         '`tools/stage_teacher.py` to a read-only folder: fails before the '
         'download, naming the folder'),
    Case('cache-nan-shard', 'silent', nan_shard, CacheMismatchError,
         ('shard_00000.emb.npy', 'non-finite'),
         'a teacher-target shard holding NaN: refused when the cache is '
         'opened (model build), not a NaN loss with rc 0'),
    Case('cache-edited-shard', 'silent', edited_shard, CacheMismatchError,
         ('shard_00000.emb.npy', 'sha256'),
         'a shard edited after the build (still finite): its sha256 differs '
         'from the manifest\'s, refused at open'),
    Case('cache-truncated-shard', 'silent', truncated_shard,
         CacheMismatchError, ('shard_00000.emb.npy', 'truncated'),
         'a truncated shard: refused at open, not mid-epoch'),
    Case('cache-deleted-shard', 'silent', deleted_shard, CacheMismatchError,
         ('shard_00000.views.npy', 'missing'),
         'a deleted shard: refused at open, not mid-epoch'),
    Case('cache-images-changed', 'silent', images_changed,
         CacheMismatchError, ('dataset', 'image files', 'modification time'),
         'the same file names with other pixels: the dataset fingerprint '
         '(file size and mtime) no longer matches the cache'),
    Case('cache-miss', 'silent', cache_miss, CacheMissError,
         ('sample_idx 6', 'not in the teacher-target cache'),
         'a sample (or view) that is not in the cache: an error, never a '
         'silent live-teacher fallback'),
    Case('cache-without-cached-view-hook', 'silent', no_cached_view_hook,
         RuntimeError, ('CachedViewHook', 'custom_hooks'),
         'a cached-teacher run without `CachedViewHook` (also with random '
         'view sampling): the replay transform refuses to train unchecked'),
    Case('cache-shard-size-0', 'traceback', zero_shard_size, ValueError,
         ('shard_size=0', '>= 1'),
         '`tools/cache_teacher_targets.py --shard-size 0` (or batch size, '
         'views 0): refused before anything is built'),
    Case('cache-incomplete', 'clear-error', incomplete_cache,
         CacheMismatchError, ('did not finish', 'resume'),
         'an interrupted cache build: training refuses it and says to '
         'resume'),
    Case('cache-other-teacher', 'clear-error', other_teacher,
         CacheMismatchError, ('teacher', 'bf16'),
         'a cache built by another teacher (weights, model, precision): '
         'refused at model build, from the config alone'),
    Case('hf-tokenizer-no-vocab', 'silent', hf_tokenizer_no_vocab,
         FileNotFoundError, ('no vocabulary', 'save_pretrained'),
         'a `local-dir:` HF-text-tower folder without its tokenizer files: '
         'refused, instead of prompts of [UNK] tokens only'),
    Case('hf-tokenizer-files-missing', 'traceback',
         hf_tokenizer_files_missing, RuntimeError,
         ('could not build the tokenizer', 'tokenizer.json'),
         'a `local-dir:` SigLIP folder without `tokenizer.json`: an error '
         'naming the folder and the files it needs'),
]
