"""Fixes that let mmengine 0.10.x run on current torch, active on import.

Everything here patches a known, unfixed upstream incompatibility (mmengine
0.10.7 with torch 2.6 or newer). They are applied when ``mmbeamclip`` is
imported, i.e. through ``custom_imports`` in the stock ``tools/train.py`` /
``tools/test.py``, so no stock tool needs a copy.

1. ``torch>=2.6`` loads with ``weights_only=True`` by default, but mmengine
   checkpoints pickle ``HistoryBuffer`` and numpy objects, so ``--resume``,
   ``load_from``, ``tools/test.py`` and ``Pretrained`` init all fail
   (open-mmlab/mmengine#1655). The local loader is re-registered to load
   with ``weights_only=True`` and an allow-list of exactly those types
   (:func:`mmbeamclip.utils.checkpoint.load_checkpoint`), so a crafted
   checkpoint is refused with an error naming the file instead of running
   code, as it would with ``weights_only=False``.
2. ``--launcher pytorch`` on a machine without CUDA: mmengine calls
   ``torch.cuda.set_device`` and asks for NCCL, and ``Runner.wrap_model``
   passes ``device_ids`` to DDP. Without CUDA we initialise gloo and wrap
   without device ids. Nothing changes when CUDA is available.
3. An empty or undecodable image stops the data pipeline with OpenCV's
   ``!buf.empty()`` assertion or Pillow's "cannot identify image file
   <BytesIO>", neither of which names the file. mmcv's
   ``LoadImageFromFile`` is wrapped to re-raise with the image path and its
   size; what it returns is unchanged.
4. mmengine writes checkpoints and ``last_checkpoint`` in place and removes
   the old checkpoint (``max_keep_ckpts``, ``save_best``) before writing
   the new one, so a full disk or a file-size limit truncates a good
   checkpoint. Every local ``put`` / ``put_text`` and ``last_checkpoint``
   now go to a temporary file in the same folder, fsync'ed and renamed
   (:mod:`mmbeamclip.utils.atomic_checkpoint`); old checkpoints are removed
   only once the new one is written.
5. Two trainings into one work dir interleave checkpoints and logs with rc
   0. ``Runner.train`` first takes ``<work_dir>/train.lock`` (owner pid and
   host; a stale lock of a dead pid is taken over with a warning) and
   releases it when training ends, also on failure
   (:mod:`mmbeamclip.utils.work_dir_lock`); a second run is refused with
   :class:`~mmbeamclip.utils.work_dir_lock.WorkDirInUseError`. Only
   training takes it: ``tools/test.py`` writes nothing but its own
   timestamped log folder, and checkpoints it reads are never half-written.
   In distributed training rank 0 takes the lock and all ranks share the
   outcome.
"""
import os.path as osp

import torch
import torch.distributed as torch_dist
from mmcv.transforms import LoadImageFromFile
from mmengine.dist import utils as dist_utils
from mmengine.model.wrappers import MMDistributedDataParallel
from mmengine.runner import Runner
from mmengine.runner.checkpoint import CheckpointLoader

from .utils import atomic_checkpoint, work_dir_lock
from .utils.checkpoint import load_from_local

_PATCHED = '_mmbeamclip_patched'


def _init_dist_pytorch(backend, init_backend='torch', **kwargs):
    if torch.cuda.is_available() or init_backend != 'torch':
        return _init_dist_pytorch.orig(
            backend, init_backend=init_backend, **kwargs)
    # No GPU: NCCL cannot work, gloo is the CPU backend of torch.distributed.
    backend = 'gloo' if backend == 'nccl' else backend
    torch_dist.init_process_group(backend=backend, **kwargs)


def _ddp_init(self, module, detect_anomalous_params=False, **kwargs):
    if not torch.cuda.is_available():
        kwargs.pop('device_ids', None)
        kwargs.pop('output_device', None)
    _ddp_init.orig(
        self,
        module,
        detect_anomalous_params=detect_anomalous_params,
        **kwargs)


class UnreadableImageError(ValueError):
    """An image file that cannot be decoded (empty, truncated, not an
    image)."""


def _load_image(self, results):
    try:
        return _load_image.orig(self, results)
    except Exception as e:
        path = results.get('img_path')
        size = (f'{osp.getsize(path)} bytes'
                if isinstance(path, str) and osp.isfile(path) else 'missing')
        raise UnreadableImageError(
            f'Could not read the image {path!r} ({size}): '
            f'{type(e).__name__}: {e}. Remove or replace the file.') from e


def _lock_work_dir(work_dir: str):
    """Rank 0 takes the lock; every rank raises if it could not."""
    from mmengine import dist
    lock, error = None, None
    if dist.is_main_process():
        try:
            lock = work_dir_lock.acquire(work_dir)
        except work_dir_lock.WorkDirInUseError as e:
            error = str(e)
    if dist.get_world_size() > 1:
        shared = [error]
        dist.broadcast_object_list(shared, src=0)
        error = shared[0]
    if error is not None:
        raise work_dir_lock.WorkDirInUseError(error)
    return lock


def _train(self):
    lock = _lock_work_dir(self.work_dir)
    try:
        return _train.orig(self)
    finally:
        if lock is not None:
            work_dir_lock.release(lock)


def apply():
    """Apply all patches once; later calls are no-ops."""
    if getattr(dist_utils, _PATCHED, False):
        return
    CheckpointLoader.register_scheme(prefixes='', force=True)(load_from_local)
    _init_dist_pytorch.orig = dist_utils._init_dist_pytorch
    dist_utils._init_dist_pytorch = _init_dist_pytorch
    _ddp_init.orig = MMDistributedDataParallel.__init__
    MMDistributedDataParallel.__init__ = _ddp_init
    _load_image.orig = LoadImageFromFile.transform
    LoadImageFromFile.transform = _load_image
    atomic_checkpoint.apply()
    _train.orig = Runner.train
    Runner.train = _train
    setattr(dist_utils, _PATCHED, True)
