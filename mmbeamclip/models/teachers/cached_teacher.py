from typing import List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.logging import MMLogger
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS

from mmbeamclip.teacher_cache.store import (CacheMismatchError,
                                            TeacherTargetCache)

from .open_clip_teacher import open_clip_teacher_id

ID_ARGS = ('model_name', 'pretrained', 'precision', 'force_quick_gelu')


def _expected_teacher_id(teacher: dict) -> str:
    """Teacher id of an ``OpenCLIPTeacher`` config, without building it."""
    if teacher.get('type') not in ('OpenCLIPTeacher', None):
        raise ValueError('CachedTeacher wraps an OpenCLIPTeacher config, got '
                         f"type={teacher.get('type')!r}")
    return open_clip_teacher_id(**{k: teacher[k] for k in ID_ARGS
                                   if k in teacher})


@MODELS.register_module()
class CachedTeacher(BaseModule):
    """A BeamCLIP teacher that reads image targets from a cache.

    Drop-in replacement for :class:`OpenCLIPTeacher` in ``target_generator``:
    ``forward`` returns the cached, L2-normalised teacher embedding of each
    sample's replayed view, looked up by ``data_samples[i].sample_idx`` and
    ``data_samples[i].cache_view`` (set by :class:`ReplayCachedView`). No
    image model runs during training.

    ``teacher`` is the config of the online teacher that built the cache. Its
    identity is computed from the config alone (no weights are loaded) and
    must equal the cache manifest's, so a cache of another teacher is
    refused and the prompt-bank key stays the one of the online teacher. The
    text side (``encode_text``, used by :class:`PromptBankHook` to build the
    anchors) builds the online teacher lazily, only when the bank is not
    already in the prompt-bank cache; it is kept out of the module tree, so it
    is never saved, wrapped by DDP or initialised.

    Args:
        cache_dir (str): Teacher-target cache folder.
        teacher (dict): ``OpenCLIPTeacher`` config the cache was built with.
        init_cfg (dict, optional): Must stay None.

    Raises:
        FileNotFoundError: No cache in ``cache_dir``.
        CacheMismatchError: The cache is incomplete or from another teacher.
    """

    def __init__(self,
                 cache_dir: str,
                 teacher: dict,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=None)
        if init_cfg is not None:
            raise ValueError('CachedTeacher has no weights to initialise.')
        self.cache_dir = cache_dir
        self.teacher_cfg = dict(teacher)
        self.cache = TeacherTargetCache(cache_dir)
        self.teacher_id = _expected_teacher_id(self.teacher_cfg)
        self.cache.check(teacher_id=self.teacher_id)
        self.embed_dim = self.cache.embed_dim
        self.save_teacher = False
        # Only tracks the device the model was moved to.
        self.register_buffer('_device_probe', torch.zeros(0), False)
        self._input_norm = None
        self._is_init = True
        MMLogger.get_current_instance().info(
            f'CachedTeacher: {self.cache.num_samples} samples x '
            f'{self.cache.num_views} views from {cache_dir} '
            f'(teacher {self.teacher_id})')

    # -------------------------------------------------------------- freezing
    def train(self, mode: bool = True):
        return super().train(False)

    def init_weights(self):
        """Do nothing: there are no weights."""

    # ----------------------------------------------------------------- input
    def set_input_normalization(self, mean: Sequence[float],
                                std: Sequence[float]):
        """Remembered for the lazily built text teacher.

        Image targets do not depend on it: the online teacher undid the
        student normalisation before embedding, and the view pixels are
        replayed exactly.
        """
        self._input_norm = (list(mean), list(std))

    # ------------------------------------------------------------------ text
    @property
    def online_teacher(self):
        """The online ``OpenCLIPTeacher``, built on first use."""
        online = self.__dict__.get('_online')
        if online is None:
            online = MODELS.build(self.teacher_cfg)
            if online.teacher_id != self.teacher_id:  # pragma: no cover
                raise CacheMismatchError(
                    f'built teacher {online.teacher_id} differs from the '
                    f'cache teacher {self.teacher_id}')
            if self._input_norm is not None:
                online.set_input_normalization(*self._input_norm)
            # Plain attribute, not a submodule: never saved or DDP-wrapped.
            self.__dict__['_online'] = online
        return online.to(self._device_probe.device)

    def encode_text(self,
                    texts: List[str],
                    batch_size: Optional[int] = None) -> torch.Tensor:
        """Prompt embeddings of the online teacher (see the class docs)."""
        return self.online_teacher.encode_text(texts, batch_size)

    def release_online_teacher(self):
        """Free the lazily built online teacher (e.g. once the bank is set)."""
        self.__dict__.pop('_online', None)

    # ----------------------------------------------------------------- image
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
        """
        if not data_samples or 'cache_view' not in data_samples[0]:
            raise RuntimeError(
                'CachedTeacher needs data samples with `cache_view`: use '
                "ReplayCachedView in the training pipeline and add "
                "'cache_view' to PackInputs' meta_keys.")
        idx = [int(s.sample_idx) for s in data_samples]
        views = [int(s.cache_view) for s in data_samples]
        targets = torch.from_numpy(self.cache.lookup(idx, views))
        targets = targets.to(inputs.device, non_blocking=True).float()
        # Renormalise after fp16 storage.
        return F.normalize(targets, dim=-1)
