"""Run the teacher once over a dataset's pre-sampled views and store it."""
import warnings
from typing import List, Optional

import numpy as np
import torch
from mmengine.dataset import default_collate
from mmengine.dist import barrier, get_dist_info, is_main_process
from mmengine.utils import ProgressBar
from mmpretrain.registry import DATASETS, MODELS

from mmbeamclip.version import __version__
from .errors import CacheMismatchError
from .fingerprint import dataset_fingerprint
from .layout import (TEACHER_CACHE_VERSION, read_manifest, shard_bounds,
                     shard_is_complete, write_manifest, write_shard)
from .view_recipe import bind_pipeline

# Manifest entries that must agree for a build to resume into a folder.
IDENTITY_KEYS = ('version', 'teacher_id', 'embed_dim', 'dataset', 'views',
                 'shard_size', 'dtype')
# Transforms whose randomness after the replayed crop would show the student
# an image the teacher never saw.
RANDOM_HINTS = ('Random', 'ColorJitter', 'GaussianBlur', 'Solarize',
                'AutoAugment', 'RandAugment')


def _prepare_pipeline(dataset, cache_dir: str, num_views: int, seed: int):
    """Bind the view transform to ``cache_dir`` and switch it to build
    mode; keep its view records."""
    replays = bind_pipeline(dataset, cache_dir, meta_key='cache_views')
    if len(replays) != 1:
        raise ValueError(
            'The dataset pipeline must contain exactly one ReplayCachedView '
            f'(found {len(replays)}): it defines the views to cache.')
    replay = replays[0]
    replay.set_build_mode(num_views, seed)
    transforms = list(getattr(dataset.pipeline, 'transforms', []))
    if replay in transforms:
        after = transforms[transforms.index(replay) + 1:]
        risky = [
            type(t).__name__ for t in after
            if any(h in type(t).__name__ for h in RANDOM_HINTS)
        ]
        if risky:
            warnings.warn(
                f'Random transforms {risky} follow ReplayCachedView: the '
                'student will not see the exact view the teacher saw. Cache '
                'only deterministic views (crop + flip).')
    return replay


def _check_counts(**counts):
    for name, value in counts.items():
        if value is None or int(value) < 1:
            raise ValueError(f'Teacher-target cache: {name}={value} must be '
                             'an integer >= 1.')


def _shard_batches(bounds, shards: List[int], batch_size: int):
    # Batches never cross a shard, so a shard's contents do not depend on
    # which other shards are built in the same run (resume gives identical
    # files).
    batches = []
    for shard in shards:
        start, end = bounds[shard]
        batches += [
            list(range(s, min(s + batch_size, end)))
            for s in range(start, end, batch_size)
        ]
    return batches


def _new_manifest(teacher, dataset, replay, num_views: int, seed: int,
                  shard_size: int) -> dict:
    """What the cache is built from, as the manifest records it."""
    return dict(
        version=TEACHER_CACHE_VERSION,
        teacher_id=teacher.teacher_id,
        embed_dim=int(teacher.embed_dim),
        dataset=dataset_fingerprint(dataset),
        views=dict(
            num_views=int(num_views), seed=int(seed),
            spec=replay.view_spec()),
        shard_size=int(shard_size),
        num_shards=len(shard_bounds(len(dataset), shard_size)),
        dtype='float16',
        mmbeamclip=__version__,
        complete=False)


def _start_manifest(cache_dir: str, manifest: dict) -> dict:
    """Write the manifest of a new build, or check that the folder holds a
    build of the same cache (to resume it). Rank 0 decides; all wait."""
    if is_main_process():
        existing = read_manifest(cache_dir)
        if existing is not None:
            diff = [k for k in IDENTITY_KEYS if existing.get(k) != manifest[k]]
            if diff:
                raise CacheMismatchError(
                    f'{cache_dir} already holds a cache built with other '
                    f'{", ".join(diff)}; use another folder or delete it.')
            manifest['complete'] = existing.get('complete', False)
        if not manifest['complete']:
            write_manifest(cache_dir, manifest)
    barrier()
    return manifest


def _missing_shards(cache_dir: str, manifest: dict, bounds) -> List[int]:
    num_views = manifest['views']['num_views']
    return [
        i for i, (start, end) in enumerate(bounds)
        if not shard_is_complete(cache_dir, i, end - start, num_views,
                                 manifest['embed_dim'])
    ]


def _encode_shards(loader, teacher, data_preprocessor, cache_dir: str,
                   bounds, shard_size: int, num_views: int, bar=None):
    """Run the teacher over the loader's batches and write each shard once
    all its rows are filled (batches never cross a shard)."""
    shard, emb_buf, view_buf, filled = None, None, None, 0
    for batch in loader:
        data = data_preprocessor(batch, False)
        samples = data['data_samples']
        # N view tensors (B, 3, H, W) -> (B * N, 3, H, W), sample-major.
        x = torch.stack(list(data['inputs']), dim=1).flatten(0, 1)
        emb = teacher.encode_image(x).view(len(samples), num_views, -1)
        emb = emb.half().cpu().numpy()
        for i, sample in enumerate(samples):
            idx = int(sample.sample_idx)
            if shard is None:
                shard = idx // shard_size
                start, end = bounds[shard]
                emb_buf = np.zeros((end - start, num_views, emb.shape[-1]),
                                   np.float16)
                view_buf = np.zeros((end - start, num_views, 5), np.int32)
                filled = 0
            emb_buf[idx - start] = emb[i]
            view_buf[idx - start] = np.asarray(sample.cache_views)
            filled += 1
            if filled == end - start:
                write_shard(cache_dir, shard, emb_buf, view_buf)
                shard = None
        if bar is not None:
            bar.update(len(samples))
    if bar is not None:
        bar.file.write('\n')


def build_teacher_cache(dataset,
                        teacher,
                        data_preprocessor,
                        cache_dir: str,
                        num_views: int = 4,
                        seed: int = 0,
                        shard_size: int = 4096,
                        batch_size: int = 64,
                        num_workers: int = 2,
                        progress: bool = True,
                        max_shards: Optional[int] = None,
                        logger=None) -> dict:
    """Build (or resume) a teacher-target cache.

    Every rank builds the missing shards ``i`` with ``i % world_size ==
    rank``, so the usual launchers (``torchrun``, slurm) parallelise it.
    Shards already on disk are skipped; the manifest is marked complete once
    all shards exist.

    Args:
        dataset: Training dataset whose pipeline contains one
            :class:`ReplayCachedView` (bound to ``cache_dir`` and switched
            to build mode here) followed by ``PackInputs``.
        teacher (BaseTeacher): The online teacher, on its device, following
            ``data_preprocessor``'s input contract
            (``teacher.follow_preprocessor(data_preprocessor)``).
        data_preprocessor (nn.Module): The model's data preprocessor (on the
            same device), turning packed batches into student inputs.
        cache_dir (str): Output folder.
        num_views (int): Views per image, N. Defaults to 4.
        seed (int): View sampling seed. Defaults to 0.
        shard_size (int): Samples per shard. Defaults to 4096.
        batch_size (int): Images per loader batch (the teacher sees
            ``batch_size * num_views``). Defaults to 64.
        num_workers (int): Loader workers. Defaults to 2.
        progress (bool): Progress bar on rank 0. Defaults to True.
        max_shards (int, optional): Stop after building this many shards on
            this rank (to split a long build into several jobs; also used by
            tests to simulate an interruption). Defaults to None (all).
        logger (logging.Logger, optional): Where to report.

    Returns:
        dict: The manifest (``complete`` is True once every shard exists).
    """
    log = logger.info if logger is not None else print
    _check_counts(
        num_views=num_views, shard_size=shard_size, batch_size=batch_size)
    rank, world_size = get_dist_info()
    replay = _prepare_pipeline(dataset, cache_dir, num_views, seed)
    manifest = _start_manifest(
        cache_dir,
        _new_manifest(teacher, dataset, replay, num_views, seed, shard_size))
    bounds = shard_bounds(manifest['dataset']['num_samples'], shard_size)
    todo = [
        i for i in _missing_shards(cache_dir, manifest, bounds)
        if i % world_size == rank
    ][:max_shards]
    batches = _shard_batches(bounds, todo, batch_size)
    num_images = sum(len(b) for b in batches)
    log(f'Teacher-target cache {cache_dir}: {len(bounds)} shards, '
        f'{len(todo)} to build on rank {rank} ({num_images} images x '
        f'{num_views} views)')
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_sampler=batches,
        num_workers=num_workers,
        collate_fn=default_collate,
        pin_memory=False)
    bar = ProgressBar(num_images) if progress and rank == 0 and \
        num_images else None
    _encode_shards(loader, teacher, data_preprocessor, cache_dir, bounds,
                   shard_size, num_views, bar)
    barrier()
    _finish_manifest(cache_dir, manifest, bounds, log)
    return read_manifest(cache_dir) or manifest


def _finish_manifest(cache_dir: str, manifest: dict, bounds, log):
    """Seal the manifest (rank 0) once every shard exists; all ranks wait.
    """
    if is_main_process() and not manifest['complete']:
        missing = _missing_shards(cache_dir, manifest, bounds)
        if missing:
            log(f'{len(missing)} of {len(bounds)} shards still missing; run '
                'again to resume.')
        else:
            manifest['complete'] = True
            write_manifest(cache_dir, manifest)
            log(f'Teacher-target cache complete: {cache_dir}')
    barrier()


def _build_settings(cfg, overrides: dict) -> dict:
    """Build settings: defaults, the config's ``teacher_cache``, then the
    non-None ``overrides``."""
    settings = dict(
        num_views=4,
        seed=0,
        shard_size=4096,
        batch_size=cfg.train_dataloader.get('batch_size', 64),
        num_workers=cfg.train_dataloader.get('num_workers', 2))
    settings.update(cfg.get('teacher_cache', {}))
    settings.update({k: v for k, v in overrides.items() if v is not None})
    _check_counts(**{
        k: settings.get(k)
        for k in ('num_views', 'shard_size', 'batch_size')
    })
    return settings


def build_teacher_cache_from_config(cfg,
                                    device: Optional[str] = None,
                                    **overrides) -> dict:
    """Build the cache that a cached-teacher training config reads.

    The config's ``model.target_generator`` must be a :class:`CachedTeacher`
    (its ``teacher`` is run, its ``cache_dir`` is written: the one place a
    config names the folder) and its training pipeline must hold the
    :class:`ReplayCachedView` (bound to that folder by
    :func:`bind_pipeline`). Build settings come from the optional top-level
    ``teacher_cache`` dict (``num_views``, ``seed``, ``shard_size``,
    ``batch_size``, ``num_workers``), then from ``overrides``.

    Args:
        cfg (Config): Training config (custom imports already done).
        device (str, optional): Teacher device. Defaults to the current CUDA
            device if there is one, else CPU.
        **overrides: Arguments of :func:`build_teacher_cache`.

    Returns:
        dict: The manifest.
    """
    target = cfg.model.target_generator
    if target.get('type') != 'CachedTeacher':
        raise ValueError(
            'model.target_generator must be a CachedTeacher (the cached '
            f'variant of the config), got {target.get("type")!r}')
    hooks = [h.get('type') for h in cfg.get('custom_hooks', None) or []]
    if 'CachedViewHook' not in hooks:
        raise ValueError(
            "The config has no dict(type='CachedViewHook') in custom_hooks; "
            'training from the cache refuses to run without it (it checks '
            'the cache against the run). Add it before building the cache.')
    settings = _build_settings(cfg, overrides)
    if device is None:
        device = f'cuda:{torch.cuda.current_device()}' \
            if torch.cuda.is_available() else 'cpu'

    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    preprocessor = MODELS.build(cfg.model.data_preprocessor).to(device)
    teacher = MODELS.build(target.teacher).to(device)
    teacher.follow_preprocessor(preprocessor)
    return build_teacher_cache(dataset, teacher, preprocessor,
                               target.cache_dir, **settings)
