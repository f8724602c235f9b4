import os.path as osp
from typing import List, Optional, Sequence

import torch
from mmengine.logging import MMLogger
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS


def cache_key(path: str) -> str:
    """How an image is looked up in a teacher cache: its real path."""
    return osp.realpath(path)


@MODELS.register_module()
class FullViewCachedTeacher(BaseModule):
    """A teacher that replays one precomputed embedding per image.

    On CPU the teacher's image pass costs more than the student's training
    step, so the quality benchmark embeds every image once (a fixed, full
    view, see ``benchmarks/quality.py``) and replays it every epoch. The
    student still sees its own random crops; the target is the embedding of
    the whole image (SimReg/"cached-target" style, cheaper and looser than
    :class:`CachedTeacher`, which replays the exact cached crop the teacher
    saw; see docs/teacher_cache.md). Images are looked up by real path, so
    it needs no special pipeline and also serves random-view SSL rows.
    Text (the prompt bank) and any image that is not in the cache go
    through the wrapped live teacher, so prompt banks, teacher ids and the
    loading path are exactly those of :class:`OpenCLIPTeacher`.

    Args:
        teacher (dict): The live teacher, e.g. :class:`OpenCLIPTeacher`.
        cache_file (str): A ``torch.save``'d dict with ``paths`` (list of
            image paths), ``embeds`` (Tensor (N, D), L2-normalised) and
            ``teacher_id`` (must match the live teacher's).
        on_miss (str): ``'live'`` (encode the crop with the live teacher) or
            ``'error'``. Defaults to ``'live'``.
    """

    def __init__(self, teacher: dict, cache_file: str, on_miss: str = 'live'):
        super().__init__(init_cfg=None)
        if on_miss not in ('live', 'error'):
            raise ValueError(f"on_miss must be 'live' or 'error', got "
                             f'{on_miss!r}')
        self.teacher = MODELS.build(teacher)
        self.on_miss = on_miss
        data = torch.load(cache_file, map_location='cpu', weights_only=False)
        if data.get('teacher_id') != self.teacher.teacher_id:
            raise ValueError(
                f'Teacher cache {cache_file} was made by another teacher '
                f'({data.get("teacher_id")}) than the configured one '
                f'({self.teacher.teacher_id}); rebuild it.')
        self.index = {cache_key(p): i for i, p in enumerate(data['paths'])}
        self.register_buffer('embeds', data['embeds'].float(), False)
        self.cache_file = cache_file
        self.num_misses = 0
        MMLogger.get_current_instance().info(
            f'FullViewCachedTeacher: {len(self.index)} cached embeddings from '
            f'{cache_file}')

    # The live teacher's interface, for BeamCLIP and PromptBankHook.
    @property
    def embed_dim(self) -> int:
        return self.teacher.embed_dim

    @property
    def teacher_id(self) -> str:
        return self.teacher.teacher_id

    @property
    def save_teacher(self) -> bool:
        return self.teacher.save_teacher

    def set_input_normalization(self, mean: Sequence[float],
                                std: Sequence[float]):
        self.teacher.set_input_normalization(mean, std)

    def encode_text(self, texts: List[str], batch_size=None) -> torch.Tensor:
        return self.teacher.encode_text(texts, batch_size)

    def encode_image(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.teacher.encode_image(inputs)

    def train(self, mode: bool = True):
        """Frozen: always in eval mode."""
        return super().train(False)

    def init_weights(self):
        """Nothing to initialise."""

    @torch.no_grad()
    def forward(self,
                inputs: torch.Tensor,
                data_samples: Optional[list] = None) -> torch.Tensor:
        """Cached embeddings of the samples' images.

        Args:
            inputs (Tensor): Student-normalised crops, shape (N, 3, H, W);
                only encoded for cache misses.
            data_samples (list[DataSample]): Samples with ``img_path``.

        Returns:
            Tensor: L2-normalised embeddings, shape (N, D).
        """
        if data_samples is None:
            raise ValueError('FullViewCachedTeacher needs the data samples '
                             '(img_path) to look embeddings up')
        rows = [
            self.index.get(cache_key(s.img_path), -1)
            if 'img_path' in s else -1 for s in data_samples
        ]
        rows = torch.tensor(rows, device=self.embeds.device)
        miss = rows < 0
        out = self.embeds[rows.clamp(min=0)].clone()
        if miss.any():
            if self.on_miss == 'error':
                raise KeyError(f'{int(miss.sum())} images are not in the '
                               f'teacher cache {self.cache_file}')
            self.num_misses += int(miss.sum())
            out[miss] = self.teacher.encode_image(inputs[miss]).to(out)
        return out
