"""The teacher-target cache the teacher rows replay: one folder per
(teacher, data, view recipe), built once by the package's public builder
and shared by every row and seed that agree on all three."""
import os.path as osp
import time

from mmengine.logging import MMLogger
from mmpretrain.registry import DATASETS

from mmbeamclip.teacher_cache import (build_teacher_cache_from_config,
                                      dataset_fingerprint, read_manifest)
from .common import sha
from .row_configs import replay_views, set_cache_dir


def view_cache_dir(cfg, work_dir: str, num_views: int, seed: int = 0) -> str:
    """The cache folder of a (teacher, data, view recipe): rows and seeds
    that agree on all three share it.

    The data part is the fingerprint that ``CachedViewHook`` checks (file
    list, sizes and modification times): a re-copied dataset gets a cache
    of its own instead of one that training would refuse.
    """
    ds = cfg.train_dataloader['dataset']
    fingerprint = dataset_fingerprint(DATASETS.build(dict(ds, pipeline=[])))
    views = [{k: v for k, v in t.items() if k != 'cache_dir'}
             for t in replay_views(ds['pipeline'])]
    key = sha([
        cfg.model['target_generator']['teacher'], ds['data_root'],
        ds['data_prefix'], fingerprint, views, num_views, seed
    ])
    return osp.join(work_dir, 'teacher_cache', key[:16])


def build_view_cache(cfg, work_dir: str, profile: dict, log=print) -> dict:
    """Build (or reuse) the teacher-target cache a teacher row replays.

    The teacher runs once over ``profile['num_views']`` pre-sampled views of
    every pre-training image (crop + flip at the student's size, the view
    recipe of the row's ``ReplayCachedView``), through the package's
    builder; training then replays the exact view the student sees and
    reads its target. ``cfg`` is pointed at the cache folder.

    Returns:
        dict: The cache manifest.
    """
    cache_dir = view_cache_dir(cfg, work_dir, profile['num_views'])
    set_cache_dir(cfg, cache_dir)
    manifest = read_manifest(cache_dir)
    if manifest is not None and manifest.get('complete'):
        log(f'teacher cache: reusing {cache_dir}')
        return manifest
    t0 = time.time()
    manifest = build_teacher_cache_from_config(
        cfg,
        device='cpu',
        num_views=profile['num_views'],
        seed=0,
        batch_size=profile['batch_size'],
        num_workers=profile['num_workers'],
        progress=True,
        logger=MMLogger.get_current_instance())
    if not manifest.get('complete'):
        raise RuntimeError(f'teacher cache {cache_dir} is incomplete')
    log(f'teacher cache: {manifest["dataset"]["num_samples"]} images x '
        f'{profile["num_views"]} views in {time.time() - t0:.1f} s '
        f'({cache_dir})')
    return manifest
