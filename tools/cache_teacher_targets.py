"""Run the teacher once over a dataset and cache its targets for training.

    python tools/cache_teacher_targets.py CONFIG [--num-views 8] [...]
    # several GPUs (each rank builds its share of the shards):
    torchrun --nproc_per_node=8 tools/cache_teacher_targets.py CONFIG \
        --launcher pytorch

CONFIG is the cached-teacher variant of a BeamCLIP config (its
``target_generator`` is a ``CachedTeacher``, its pipeline replays the views
with ``ReplayCachedView`` and its ``custom_hooks`` hold ``CachedViewHook``);
training with the same config then reads the cache. Interrupted builds
resume: run the same command again.
"""
import argparse
import os
import sys

import library_warnings  # noqa: F401  (before mmcv is imported)
from mmengine.config import DictAction
from mmengine.dist import init_dist
from mmengine.logging import MMLogger

from mmbeamclip.teacher_cache import build_teacher_cache_from_config
from mmbeamclip.utils import WriteError, load_tool_config
from mmbeamclip.utils.arg_types import non_negative_int, positive_int


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='cached-teacher training config')
    parser.add_argument('--num-views',
                        type=positive_int,
                        help='views per image')
    parser.add_argument('--seed',
                        type=non_negative_int,
                        help='view sampling seed')
    parser.add_argument('--shard-size',
                        type=positive_int,
                        help='samples per shard')
    parser.add_argument('--batch-size',
                        type=positive_int,
                        help='images per batch')
    parser.add_argument('--workers',
                        type=non_negative_int,
                        help='data loader workers')
    parser.add_argument(
        '--max-shards',
        type=positive_int,
        help='stop after this many shards per rank (resume later)')
    parser.add_argument('--device', help='teacher device (default: auto)')
    parser.add_argument('--launcher',
                        choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none',
                        help='job launcher, as in train.py')
    parser.add_argument('--local_rank',
                        '--local-rank',
                        type=non_negative_int,
                        default=0)
    parser.add_argument('--cfg-options',
                        nargs='+',
                        action=DictAction,
                        help='as train.py')
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main():
    args = parse_args()
    cfg = load_tool_config(args.config, args.cfg_options)
    if args.launcher != 'none':
        init_dist(args.launcher,
                  **cfg.get('env_cfg', {}).get('dist_cfg', {}))
    logger = MMLogger.get_instance('mmbeamclip-cache', log_level='INFO')
    manifest = build_teacher_cache_from_config(
        cfg,
        device=args.device,
        num_views=args.num_views,
        seed=args.seed,
        shard_size=args.shard_size,
        batch_size=args.batch_size,
        num_workers=args.workers,
        max_shards=args.max_shards,
        logger=logger)
    state = 'complete' if manifest['complete'] else 'incomplete (resume)'
    logger.info(f'Cache {cfg.model.target_generator.cache_dir}: {state}')


if __name__ == '__main__':
    try:
        main()
    except WriteError as e:
        sys.exit(f'cache_teacher_targets.py: error: {e}')
