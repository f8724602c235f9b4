"""A damaged cache is refused when it is opened, never mid-epoch; a changed
dataset, a missing sample and a missing hook are refused too."""
import hashlib
import os
import shutil

import numpy as np
import pytest
from mmengine.registry import init_default_scope
from mmpretrain.registry import DATASETS
from PIL import Image
from teacher_cache_helpers import cached_config

import mmbeamclip  # noqa: F401
from mmbeamclip.teacher_cache import (CacheMismatchError, CacheMissError,
                                      TeacherTargetCache,
                                      build_teacher_cache_from_config,
                                      dataset_fingerprint, read_manifest)
from mmbeamclip.teacher_cache.layout import shard_path

init_default_scope('mmpretrain')


@pytest.fixture(scope='module')
def pristine(tmp_path_factory, tiny_teacher_cfg):
    """One cache built for the module; tests damage copies of it."""
    from conftest import write_image_folder
    root = tmp_path_factory.mktemp('integrity')
    folder = write_image_folder(root / 'images')
    mp = pytest.MonkeyPatch()
    cfg = cached_config(mp, folder, root / 'cache', tiny_teacher_cfg)
    old = os.umask(0o022)
    try:
        build_teacher_cache_from_config(cfg, progress=False)
    finally:
        os.umask(old)
    mp.undo()
    return cfg, folder, str(root / 'cache')


@pytest.fixture
def cache_copy(pristine, tmp_path):
    cfg, folder, cache_dir = pristine
    copy = str(tmp_path / 'cache')
    shutil.copytree(cache_dir, copy)
    return copy


def test_manifest_records_every_shard(pristine):
    _, _, cache_dir = pristine
    manifest = read_manifest(cache_dir)
    assert len(manifest['shards']) == manifest['num_shards'] == 4
    for shard, record in enumerate(manifest['shards']):
        for kind in ('emb', 'views'):
            path = shard_path(cache_dir, shard, kind)
            with open(path, 'rb') as f:
                data = f.read()
            assert record[kind] == dict(
                bytes=len(data), sha256=hashlib.sha256(data).hexdigest())


def test_shared_files_honour_the_umask(pristine):
    """Built under umask 022: readable by the team (0644 / 0755)."""
    _, _, cache_dir = pristine
    assert os.stat(cache_dir).st_mode & 0o777 == 0o755
    for name in os.listdir(cache_dir):
        mode = os.stat(os.path.join(cache_dir, name)).st_mode & 0o777
        assert mode == 0o644, (name, oct(mode))


def _rewrite_emb(cache_dir, shard, change):
    path = shard_path(cache_dir, shard, 'emb')
    emb = np.load(path)
    change(emb)
    np.save(path, emb)  # same size, other contents


def test_nan_shard_is_refused_at_open(cache_copy):
    _rewrite_emb(cache_copy, 2, lambda e: e.__setitem__((0, 1), np.nan))
    with pytest.raises(CacheMismatchError, match='shard_00002.emb.npy'):
        TeacherTargetCache(cache_copy)


def test_edited_shard_is_refused_at_open(cache_copy):
    # Still finite unit vectors: only the checksum catches it.
    _rewrite_emb(cache_copy, 1, lambda e: e.__setitem__(0, e[0, ::-1]))
    with pytest.raises(CacheMismatchError, match='sha256') as e:
        TeacherTargetCache(cache_copy)
    assert 'shard_00001.emb.npy' in str(e.value)


def test_truncated_or_deleted_shard_is_refused_at_open(cache_copy):
    path = shard_path(cache_copy, 3, 'views')
    with open(path, 'r+b') as f:
        f.truncate(os.path.getsize(path) - 8)
    with pytest.raises(CacheMismatchError, match='truncated'):
        TeacherTargetCache(cache_copy, verify='size')
    os.remove(shard_path(cache_copy, 0, 'emb'))
    with pytest.raises(CacheMismatchError, match='missing') as e:
        TeacherTargetCache(cache_copy, verify='size')
    assert 'shard_00000.emb.npy' in str(e.value)


def test_cache_miss_raises(pristine, tiny_teacher_cfg):
    _, _, cache_dir = pristine
    cache = TeacherTargetCache(cache_dir)
    with pytest.raises(CacheMissError, match='sample_idx 16'):
        cache.lookup([0, 16], [0, 0])
    with pytest.raises(CacheMissError, match='view 2'):
        cache.lookup([0, 1], [0, 2])
    with pytest.raises(CacheMissError, match='sample_idx -1'):
        cache.views(-1)


def test_fingerprint_follows_image_contents(tmp_path):
    """Same names, other pixels: the fingerprint changes."""
    from conftest import write_image_folder
    folder = write_image_folder(tmp_path / 'images')
    dataset = DATASETS.build(
        dict(type='CustomDataset', data_root=folder, data_prefix='train',
             pipeline=[]))
    before = dataset_fingerprint(dataset)
    path = dataset.get_data_info(5)['img_path']
    Image.fromarray(np.zeros((41, 40, 3), np.uint8)).save(path, 'JPEG')
    stat = os.stat(path)
    os.utime(path, (stat.st_atime, stat.st_mtime + 5))
    after = dataset_fingerprint(dataset)
    assert after['file_list_sha256'] == before['file_list_sha256']
    assert after['file_stats_sha256'] != before['file_stats_sha256']


def test_cache_without_hook_is_refused(monkeypatch, pristine,
                                       tiny_teacher_cfg, tmp_path):
    cfg, folder, cache_dir = pristine
    cfg = cached_config(monkeypatch, folder, cache_dir, tiny_teacher_cfg)
    cfg.custom_hooks = [h for h in cfg.custom_hooks
                        if h['type'] != 'CachedViewHook']
    with pytest.raises(ValueError, match='CachedViewHook'):
        build_teacher_cache_from_config(cfg, progress=False)


@pytest.mark.parametrize('option', ['shard_size', 'batch_size', 'num_views'])
def test_zero_counts_are_refused(monkeypatch, pristine, tiny_teacher_cfg,
                                 tmp_path, option):
    cfg, folder, _ = pristine
    cfg = cached_config(monkeypatch, folder, tmp_path / 'c',
                        tiny_teacher_cfg)
    with pytest.raises(ValueError, match=f'{option}=0'):
        build_teacher_cache_from_config(cfg, progress=False, **{option: 0})
    assert not os.path.exists(tmp_path / 'c')
