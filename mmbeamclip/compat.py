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
"""
import os.path as osp

import torch
import torch.distributed as torch_dist
from mmcv.transforms import LoadImageFromFile
from mmengine.dist import utils as dist_utils
from mmengine.model.wrappers import MMDistributedDataParallel
from mmengine.runner.checkpoint import CheckpointLoader

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
    setattr(dist_utils, _PATCHED, True)
