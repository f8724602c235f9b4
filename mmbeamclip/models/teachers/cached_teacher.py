from typing import List, Optional

import torch
import torch.nn.functional as F
from mmengine.logging import MMLogger
from mmpretrain.registry import MODELS

from mmbeamclip.teacher_cache import CacheMismatchError, TeacherTargetCache
from .base import BaseTeacher
from .identity import open_clip_teacher_id

ID_ARGS = ('model_name', 'pretrained', 'precision', 'force_quick_gelu')


def _expected_teacher_id(teacher: dict) -> str:
    """Teacher id of an ``OpenCLIPTeacher`` config, without building it."""
    if teacher.get('type') not in ('OpenCLIPTeacher', None):
        raise ValueError('CachedTeacher wraps an OpenCLIPTeacher config, got '
                         f"type={teacher.get('type')!r}")
    return open_clip_teacher_id(**{k: teacher[k] for k in ID_ARGS
                                   if k in teacher})


@MODELS.register_module()
class CachedTeacher(BaseTeacher):
    """A BeamCLIP teacher that reads image targets from a cache.

    Drop-in replacement for :class:`OpenCLIPTeacher` in ``target_generator``:
    ``forward`` returns the cached, L2-normalised teacher embedding of each
    sample's replayed view, looked up by ``data_samples[i].sample_idx`` and
    ``data_samples[i].cache_view`` (set by :class:`ReplayCachedView`). No
    image model runs during training, and a sample or view that is not in
    the cache is an error (:class:`CacheMissError`), never a live fallback.

    ``teacher`` is the config of the online teacher that built the cache. Its
    identity is computed from the config alone (no weights are loaded) and
    must equal the cache manifest's, so a cache of another teacher is
    refused and the prompt-bank key stays the one of the online teacher.
    Opening verifies the shard files (see :class:`TeacherTargetCache`). The
    text side (``encode_text``, used by :class:`PromptBankHook` to build the
    anchors) builds the online teacher lazily, only when the bank is not
    already in the prompt-bank cache, and without its image tower
    (``text_only=True``); it is kept out of the module tree, so it is never
    saved, wrapped by DDP or initialised.

    Training from the cache needs :class:`CachedViewHook` in
    ``custom_hooks`` (``ReplayCachedView`` refuses to run without it).

    Args:
        cache_dir (str): Teacher-target cache folder: the one place a config
            names it (:class:`CachedViewHook` gives it to the
            ``ReplayCachedView`` of the training pipeline).
        teacher (dict): ``OpenCLIPTeacher`` config the cache was built with.
        verify (str): How the shards are checked when the cache is opened:
            ``'full'`` (sizes, sha256 and finite unit embeddings; one read of
            the cache per process) or ``'size'``. Defaults to ``'full'``.
        init_cfg (dict, optional): Must stay None.

    Raises:
        FileNotFoundError: No cache in ``cache_dir``.
        CacheMismatchError: The cache is incomplete, damaged or from another
            teacher.
    """

    def __init__(self,
                 cache_dir: str,
                 teacher: dict,
                 verify: str = 'full',
                 init_cfg: Optional[dict] = None):
        super().__init__(save_teacher=False, init_cfg=init_cfg)
        self.cache_dir = cache_dir
        self.teacher_cfg = dict(teacher)
        self.teacher_id = _expected_teacher_id(self.teacher_cfg)
        self.cache = TeacherTargetCache(cache_dir, verify=verify)
        self.cache.check(teacher_id=self.teacher_id)
        self.embed_dim = self.cache.embed_dim
        # Only tracks the device the model was moved to.
        self.register_buffer('_device_probe', torch.zeros(0), False)
        self.freeze()
        MMLogger.get_current_instance().info(
            f'CachedTeacher: {self.cache.num_samples} samples x '
            f'{self.cache.num_views} views from {cache_dir} '
            f'(teacher {self.teacher_id})')

    # ------------------------------------------------------------------ text
    @property
    def online_teacher(self):
        """The online teacher's text side, built on first use."""
        online = self.__dict__.get('_online')
        if online is None:
            online = MODELS.build(dict(self.teacher_cfg, text_only=True))
            if online.teacher_id != self.teacher_id:  # pragma: no cover
                raise CacheMismatchError(
                    f'built teacher {online.teacher_id} differs from the '
                    f'cache teacher {self.teacher_id}')
            online.set_input_preprocessing(self.input_preprocessing)
            # Plain attribute, not a submodule: never saved or DDP-wrapped.
            self.__dict__['_online'] = online
        return online.to(self._device_probe.device)

    def encode_text(self,
                    texts: List[str],
                    batch_size: Optional[int] = None) -> torch.Tensor:
        """Prompt embeddings of the online teacher, shape (T, D)."""
        return self.online_teacher.encode_text(texts, batch_size)

    # ----------------------------------------------------------------- image
    def encode_image(self, inputs: torch.Tensor) -> torch.Tensor:
        """Refused: cached targets are looked up by sample (``forward``)."""
        raise RuntimeError(
            'CachedTeacher has no image model: its targets are looked up by '
            'sample and view, call it with the data samples '
            '(forward(inputs, data_samples)).')

    @torch.no_grad()
    def forward(self, inputs: torch.Tensor,
                data_samples: Optional[list] = None) -> torch.Tensor:
        """Cached teacher embeddings of the replayed views.

        Args:
            inputs (Tensor): Student inputs (N, 3, H, W); only their device
                is used.
            data_samples (list[DataSample]): With ``sample_idx`` and
                ``cache_view`` metainfo.

        Returns:
            Tensor: L2-normalised fp32 embeddings, shape (N, D).

        Raises:
            CacheMissError: A sample or view the cache does not hold.
        """
        if not data_samples or any('cache_view' not in s or
                                   'sample_idx' not in s
                                   for s in data_samples):
            raise RuntimeError(
                'CachedTeacher needs data samples with `sample_idx` and '
                '`cache_view`: use ReplayCachedView in the training pipeline '
                "and dict(type='CachedViewHook') in custom_hooks (which adds "
                "'cache_view' to PackInputs' meta_keys).")
        idx = [int(s.sample_idx) for s in data_samples]
        views = [int(s.cache_view) for s in data_samples]
        targets = torch.from_numpy(self.cache.lookup(idx, views))
        targets = targets.to(inputs.device, non_blocking=True).float()
        # Renormalise after fp16 storage.
        return F.normalize(targets, dim=-1)
