"""The benchmark teacher: its teacher-target cache for the rows, its
config from a --teacher argument and its reference numbers."""
import os
import os.path as osp

import pytest
import torch
from beamclip_bench import row_configs
from beamclip_bench import rows as row_table
from beamclip_bench import teacher as teachers
from beamclip_bench import view_cache
from beamclip_bench.common import teacher_cfg
from bench_fixtures import SMOKE, data, teacher  # noqa: F401
from mmpretrain.registry import MODELS

import mmbeamclip  # noqa: F401
from mmbeamclip.models.teachers import IMAGENET_MEAN, IMAGENET_STD


def test_view_cache_is_built_once_and_matches_the_rows(teacher, data,
                                                       tmp_path):
    from mmbeamclip.teacher_cache import read_manifest
    manifest = read_manifest(teacher['cache_dir'])
    assert manifest['complete']
    assert manifest['views']['num_views'] == SMOKE['num_views'] == 2
    assert manifest['dataset']['num_samples'] == data['pretrain_num']
    assert manifest['views']['spec']['scale'] == [32, 32]
    # A second call (another row or seed) reuses the same folder.
    logs = []
    again = teachers.cache_teacher(
        teacher['spec'], data, SMOKE, str(tmp_path / 'work'),
        log=logs.append)
    assert again['cache_dir'] == teacher['cache_dir']
    assert any('reusing' in m for m in logs)
    # Every teacher row reads this cache, views and teacher included.
    for row in [r for r in row_table.ROWS if row_table.ROWS[r].get('teacher')]:
        cfg = row_configs.pretrain_config(row, data, SMOKE, 0, teacher)
        tg = cfg.model['target_generator']
        assert tg['type'] == 'CachedTeacher'
        assert tg['cache_dir'] == teacher['cache_dir']
        replays = row_configs.replay_views(
            cfg.train_dataloader['dataset']['pipeline'])
        # A replayed view names no folder (CachedViewHook gives it the
        # teacher's) or the teacher's.
        assert [r.get('cache_dir', tg['cache_dir'])
                for r in replays] == [teacher['cache_dir']]
        assert 'CachedViewHook' in [h['type'] for h in cfg.custom_hooks]


def test_view_cache_folder_follows_the_image_files(teacher, data):
    """Images re-copied without their modification times get a cache
    folder of their own: the old cache would be refused by CachedViewHook
    after the teacher reference, so it is never picked."""
    cfg = row_configs.pretrain_config('csm', data, SMOKE, 0, teacher)
    before = view_cache.view_cache_dir(cfg, 'work', SMOKE['num_views'])
    assert view_cache.view_cache_dir(cfg, 'work', SMOKE['num_views']) == before
    first = osp.join(data['data_root'], 'train', data['pretrain_files'][0][0])
    st = os.stat(first)
    try:
        os.utime(first, (st.st_atime, st.st_mtime + 10))
        after = view_cache.view_cache_dir(cfg, 'work', SMOKE['num_views'])
    finally:
        os.utime(first, (st.st_atime, st.st_mtime))
    assert after != before
    assert view_cache.view_cache_dir(cfg, 'work', SMOKE['num_views']) == before


def test_view_cache_holds_the_teacher_embedding_of_the_replayed_crop(
        teacher, data):
    """The cached target of a view equals the live teacher's embedding of
    the exact crop the student is shown (independent recomputation)."""
    from mmpretrain.registry import DATASETS

    from mmbeamclip.teacher_cache import TeacherTargetCache, bind_pipeline
    cfg = row_configs.pretrain_config('csm', data, SMOKE, 0, teacher)
    dataset = DATASETS.build(cfg.train_dataloader['dataset'])
    from mmbeamclip.datasets.transforms import find_transforms

    # As CachedViewHook does before training: the teacher's folder.
    bind_pipeline(dataset, cfg.model['target_generator']['cache_dir'])
    find_transforms(dataset)[0].set_epoch(1)
    sample = dataset[3]
    view = int(sample['data_samples'].cache_view)
    assert view == (1 + 3) % 2
    img = sample['inputs'].float()[[2, 1, 0]]  # BGR -> RGB, as the model
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    live = MODELS.build(teacher['cfg']).encode_image(((img - mean) /
                                                      std)[None])[0]
    cached = torch.from_numpy(
        TeacherTargetCache(teacher['cache_dir']).lookup([3], [view])[0])
    cos = torch.nn.functional.cosine_similarity(live, cached.float(), dim=0)
    assert cos > 0.999


def test_teacher_cfg():
    assert teacher_cfg('ViT-B-32:openai')['model_name'] == \
        'ViT-B-32-quickgelu'
    cfg = teacher_cfg('local-dir:/x/model', 64, precision='fp16')
    assert cfg['pretrained'] == 'local-dir:/x/model'
    assert cfg['image_size'] == 64 and cfg['precision'] == 'fp16'
    with pytest.raises(ValueError, match='MODEL:TAG'):
        teacher_cfg('ViT-B-32')
    assert teacher_cfg('ViT-B-32', allow_random_init=True)['pretrained'] \
        is None


def test_teacher_reference(data, teacher):
    pytest.importorskip('sklearn')  # the benchmark extra
    ref = teachers.teacher_reference(
        teacher['cfg'], data, SMOKE, teacher['templates'])
    assert 0 <= ref['zero_shot'] <= 100 and 0 <= ref['linear_probe'] <= 100
