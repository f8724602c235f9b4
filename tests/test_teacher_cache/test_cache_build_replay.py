import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.dataset import default_collate
from mmengine.registry import init_default_scope
from mmpretrain.registry import DATASETS, MODELS
from teacher_cache_helpers import cached_config

import mmbeamclip  # noqa: F401
from mmbeamclip.datasets.transforms import ReplayCachedView, find_transforms
from mmbeamclip.teacher_cache import (CacheMismatchError, TeacherTargetCache,
                                      bind_pipeline,
                                      build_teacher_cache_from_config,
                                      dataset_fingerprint, read_manifest)
from mmbeamclip.teacher_cache.layout import shard_path

init_default_scope('mmpretrain')
NUM_TRAIN = 16  # image_folder: 2 classes x 8 training images


@pytest.fixture
def built(monkeypatch, image_folder, tmp_path, tiny_teacher_cfg):
    cfg = cached_config(monkeypatch, image_folder, tmp_path / 'cache',
                        tiny_teacher_cfg)
    manifest = build_teacher_cache_from_config(cfg, progress=False)
    return cfg, manifest


def test_manifest_and_layout(built):
    cfg, manifest = built
    assert manifest['complete']
    assert manifest['num_shards'] == 4  # 16 samples, 5 per shard
    assert manifest['views']['num_views'] == 2
    assert manifest['dataset']['num_samples'] == NUM_TRAIN
    assert 'bank_key' not in manifest
    cache = TeacherTargetCache(cfg.model.target_generator.cache_dir)
    emb = np.load(shard_path(cache.cache_dir, 3, 'emb'), mmap_mode='r')
    assert emb.dtype == np.float16 and emb.shape == (1, 2, 32)
    assert isinstance(emb, np.memmap)


def _bound_dataset(cfg, teacher):
    """The training dataset as CachedViewHook leaves it."""
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    bind_pipeline(dataset, teacher.cache_dir, cache=teacher.cache)
    return dataset


def test_replay_gives_online_targets(built):
    """Same crops as at build time, and targets equal to the online ones."""
    cfg, _ = built
    teacher = MODELS.build(cfg.model.target_generator)
    dataset = _bound_dataset(cfg, teacher)
    replay = find_transforms(dataset)[0]
    # The transform replays from the teacher's verified cache, not a copy.
    assert replay.cache is teacher.cache
    online = MODELS.build(cfg.model.target_generator.teacher)
    preprocessor = MODELS.build(cfg.model.data_preprocessor)
    online.set_input_normalization(preprocessor.mean.flatten().tolist(),
                                   preprocessor.std.flatten().tolist())
    for epoch in (0, 1):
        replay.set_epoch(epoch)
        batch = default_collate([dataset[i] for i in range(NUM_TRAIN)])
        data = preprocessor(batch, False)
        samples = data['data_samples']
        views = [s.cache_view for s in samples]
        assert views == [(epoch + i) % 2 for i in range(NUM_TRAIN)]
        x = data['inputs']
        assert x.shape == (NUM_TRAIN, 3, 64, 64)
        cached = teacher(x, samples)
        live = online.encode_image(x)
        cosine = F.cosine_similarity(cached, live, dim=-1)
        assert cosine.min() >= 0.999, cosine.min()
        assert torch.allclose(cached.norm(dim=-1), torch.ones(NUM_TRAIN))

    # The recorded views are the ones the seeded sampler draws again.
    results = dataset.pipeline.transforms[0](dataset.get_data_info(7))
    again = replay.sample_views(results['img'], 7, 2, 0)
    np.testing.assert_array_equal(again, teacher.cache.views(7))


def test_epoch_sampling_needs_an_epoch(built):
    cfg, _ = built
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    # Unbound: no folder yet (the config names it once, in the teacher).
    assert find_transforms(dataset)[0].cache_dir is None
    with pytest.raises(RuntimeError, match='CachedViewHook'):
        dataset[0]
    bind_pipeline(dataset, cfg.model.target_generator.cache_dir)
    with pytest.raises(RuntimeError, match='CachedViewHook'):
        dataset[0]


def test_binding_takes_the_teacher_folder_once(built, tmp_path):
    """bind_pipeline gives the transform the folder and cache_view to
    PackInputs; an explicit other folder is refused, the same one kept."""
    cfg, _ = built
    cache_dir = cfg.model.target_generator.cache_dir
    pipeline = cfg.train_dataloader.dataset.pipeline
    assert 'meta_keys' not in pipeline[-1]
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    bind_pipeline(dataset, cache_dir)
    assert find_transforms(dataset)[0].cache_dir == cache_dir
    find_transforms(dataset)[0].set_epoch(0)
    assert dataset[2]['data_samples'].cache_view == 0
    # Idempotent: the key is not added twice.
    bind_pipeline(dataset, cache_dir)
    assert dataset.pipeline.transforms[-1].meta_keys.count('cache_view') == 1

    pipeline[1]['cache_dir'] = cache_dir + '/.'  # the same folder
    bind_pipeline(DATASETS.build(cfg.train_dataloader.dataset), cache_dir)
    pipeline[1]['cache_dir'] = str(tmp_path / 'other')
    with pytest.raises(CacheMismatchError, match='cache_dir'):
        bind_pipeline(DATASETS.build(cfg.train_dataloader.dataset), cache_dir)
    # Without a CachedTeacher there is nothing to take the folder from.
    pipeline[1]['cache_dir'] = None
    with pytest.raises(ValueError, match='CachedTeacher'):
        bind_pipeline(DATASETS.build(cfg.train_dataloader.dataset), None)


def test_random_view_sampling(built):
    cfg, _ = built
    cfg.train_dataloader.dataset.pipeline[1]['view_sampling'] = 'random'
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    bind_pipeline(dataset, cfg.model.target_generator.cache_dir)
    # Random views also need CachedViewHook (which publishes the epoch).
    with pytest.raises(RuntimeError, match='CachedViewHook'):
        dataset[3]
    find_transforms(dataset)[0].set_epoch(0)
    np.random.seed(0)
    views = {int(dataset[3]['data_samples'].cache_view) for _ in range(20)}
    assert views == {0, 1}


def test_resume_gives_identical_cache(monkeypatch, image_folder, tmp_path,
                                      tiny_teacher_cfg):
    whole = cached_config(monkeypatch, image_folder, tmp_path / 'whole',
                          tiny_teacher_cfg)
    build_teacher_cache_from_config(whole, progress=False)
    cfg = cached_config(monkeypatch, image_folder, tmp_path / 'resumed',
                        tiny_teacher_cfg)
    cache_dir = cfg.model.target_generator.cache_dir
    # Interrupted after two shards: training refuses the half cache.
    manifest = build_teacher_cache_from_config(
        cfg, progress=False, max_shards=2)
    assert not manifest['complete']
    with pytest.raises(CacheMismatchError, match='did not finish'):
        TeacherTargetCache(cache_dir)
    manifest = build_teacher_cache_from_config(cfg, progress=False)
    assert manifest['complete']
    for shard in range(4):
        for kind in ('emb', 'views'):
            np.testing.assert_array_equal(
                np.load(shard_path(cache_dir, shard, kind)),
                np.load(
                    shard_path(whole.model.target_generator.cache_dir, shard,
                               kind)))
    assert read_manifest(cache_dir) == read_manifest(
        whole.model.target_generator.cache_dir)


def test_mismatched_manifest_is_refused(built, tmp_path, tiny_teacher_cfg):
    from conftest import write_tiny_clip_dir
    cfg, _ = built
    cache_dir = cfg.model.target_generator.cache_dir
    # Another teacher.
    other = write_tiny_clip_dir(str(tmp_path / 'other_clip'), seed=1)
    with pytest.raises(CacheMismatchError, match='teacher'):
        MODELS.build(
            dict(
                type='CachedTeacher',
                cache_dir=cache_dir,
                teacher=dict(tiny_teacher_cfg,
                             pretrained=f'local-dir:{other}')))
    with pytest.raises(CacheMismatchError, match='teacher'):
        MODELS.build(
            dict(
                type='CachedTeacher',
                cache_dir=cache_dir,
                teacher=dict(tiny_teacher_cfg, precision='bf16')))
    # Another dataset (the val split).
    cache = TeacherTargetCache(cache_dir)
    val = DATASETS.build(cfg.val_dataloader.dataset)
    with pytest.raises(CacheMismatchError, match='dataset'):
        cache.check(dataset=dataset_fingerprint(val))
    train = DATASETS.build(cfg.train_dataloader.dataset)
    cache.check(dataset=dataset_fingerprint(train))
    # Other views (another crop size).
    replay = ReplayCachedView(scale=48, cache_dir=cache_dir,
                              crop_ratio_range=(0.2, 1.), backend='pillow')
    with pytest.raises(CacheMismatchError, match='view recipe'):
        replay.cache
    # Resuming into the folder with another recipe.
    cfg.teacher_cache.num_views = 3
    with pytest.raises(CacheMismatchError, match='views'):
        build_teacher_cache_from_config(cfg, progress=False)


def test_missing_cache_is_explained(tmp_path, tiny_teacher_cfg):
    with pytest.raises(FileNotFoundError, match='cache_teacher_targets'):
        MODELS.build(
            dict(
                type='CachedTeacher',
                cache_dir=str(tmp_path / 'nothing'),
                teacher=tiny_teacher_cfg))


def test_epoch_reaches_persistent_workers(built):
    """The hook's set_epoch is seen by workers started in an earlier epoch."""
    cfg, _ = built
    dataset = _bound_dataset(cfg, MODELS.build(cfg.model.target_generator))
    replay = find_transforms(dataset)[0]
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=NUM_TRAIN,
        num_workers=1,
        persistent_workers=True,
        collate_fn=default_collate)
    for epoch in (0, 1, 2):
        replay.set_epoch(epoch)
        batch = next(iter(loader))
        views = [int(s.cache_view) for s in batch['data_samples']]
        assert views == [(epoch + i) % 2 for i in range(NUM_TRAIN)]
