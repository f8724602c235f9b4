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
"""
import torch
import torch.distributed as torch_dist
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


def apply():
    """Apply all patches once; later calls are no-ops."""
    if getattr(dist_utils, _PATCHED, False):
        return
    CheckpointLoader.register_scheme(prefixes='', force=True)(load_from_local)
    _init_dist_pytorch.orig = dist_utils._init_dist_pytorch
    dist_utils._init_dist_pytorch = _init_dist_pytorch
    _ddp_init.orig = MMDistributedDataParallel.__init__
    MMDistributedDataParallel.__init__ = _ddp_init
    setattr(dist_utils, _PATCHED, True)
