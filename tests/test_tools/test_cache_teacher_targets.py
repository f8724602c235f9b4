"""The cache tool under torchrun (2 CPU ranks, gloo) builds the same cache as
one process: each rank builds its share of the shards; the stock
tools/train.py then trains from it, told the folder in one place."""
import os
import os.path as osp
import socket
import subprocess
import sys

import numpy as np
from teacher_cache_helpers import CONFIG, cached_config
from test_train_e2e import run

import mmbeamclip  # noqa: F401
from mmbeamclip.teacher_cache import (build_teacher_cache_from_config,
                                      read_manifest)
from mmbeamclip.teacher_cache.layout import shard_path

ROOT = osp.join(osp.dirname(__file__), '..', '..')


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_two_rank_build_matches_single_process(monkeypatch, image_folder,
                                               tmp_path, tiny_teacher_cfg):
    single = cached_config(monkeypatch, image_folder, tmp_path / 'single',
                           tiny_teacher_cfg)
    build_teacher_cache_from_config(single, progress=False)

    env = dict(
        os.environ,
        DATA_ROOT=image_folder,
        TEACHER_CACHE=str(tmp_path / 'dist'),
        PYTHONPATH=os.pathsep.join([osp.abspath(ROOT)] + sys.path),
        OMP_NUM_THREADS='1')
    subprocess.run([
        sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2',
        f'--master_port={_free_port()}',
        osp.join(ROOT, 'tools', 'cache_teacher_targets.py'), CONFIG,
        '--launcher', 'pytorch', '--num-views', '2', '--shard-size', '5',
        '--batch-size', '3', '--workers', '0', '--cfg-options',
        f"model.target_generator.teacher.model_name="
        f"{tiny_teacher_cfg['model_name']}",
        f"model.target_generator.teacher.pretrained="
        f"{tiny_teacher_cfg['pretrained']}"
    ],
                   env=env,
                   check=True,
                   timeout=300)
    dist_dir = str(tmp_path / 'dist')
    single_dir = single.model.target_generator.cache_dir
    assert read_manifest(dist_dir) == read_manifest(single_dir)
    assert read_manifest(dist_dir)['complete']
    for shard in range(4):
        for kind in ('emb', 'views'):
            np.testing.assert_array_equal(
                np.load(shard_path(dist_dir, shard, kind)),
                np.load(shard_path(single_dir, shard, kind)))

    # Training follows the folder changed in one place: TEACHER_CACHE (the
    # config's default) names a folder without a cache, the teacher's
    # cache_dir the built one; ReplayCachedView and PackInputs say nothing.
    # One persistent worker: the folder and the epoch reach it.
    work_dir = str(tmp_path / 'work')
    env['TEACHER_CACHE'] = str(tmp_path / 'no_cache_here')
    log = run([
        sys.executable,
        osp.join(ROOT, 'tools', 'train.py'), CONFIG, '--work-dir', work_dir,
        '--cfg-options', f'model.target_generator.cache_dir={dist_dir}',
        f"model.target_generator.teacher.model_name="
        f"{tiny_teacher_cfg['model_name']}",
        f"model.target_generator.teacher.pretrained="
        f"{tiny_teacher_cfg['pretrained']}", 'model.neck.out_channels=32',
        'model.neck.hid_channels=64', 'train_cfg.max_epochs=1',
        'train_dataloader.batch_size=4', 'train_dataloader.num_workers=1',
        'train_dataloader.persistent_workers=True',
        'val_dataloader.batch_size=4', 'val_dataloader.num_workers=0'
    ], env, timeout=300)
    assert f'views from {dist_dir}' in log
    assert 'Teacher-target cache matches the training dataset' in log
    assert 'Epoch(train) [1][4/4]' in log
    assert not os.path.exists(tmp_path / 'no_cache_here')
