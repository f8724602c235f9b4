import os.path as osp
from typing import List, Optional, Sequence

import open_clip
import torch
import torch.nn.functional as F
from mmengine.logging import MMLogger
from mmpretrain.registry import MODELS
from open_clip.model import get_input_dtype
from open_clip.transformer import QuickGELU

from mmbeamclip.utils.local_dir import (CONFIG_FILE, LOCAL_DIR_PREFIX,
                                        WEIGHT_SUFFIXES, loaded_files,
                                        read_local_dir_config)
from mmbeamclip.utils.ranges import check_range
from .base import BaseTeacher
from .identity import check_precision, open_clip_teacher_id
from .preprocessing import (IMAGENET_MEAN, IMAGENET_STD, InputPreprocessing,
                            resize_mode_of, resize_options)

STAGING_HELP = (
    'On a machine without internet, stage the weights first: on a machine '
    'with internet run `python tools/stage_teacher.py {model} {tag} '
    '--out DIR`, copy DIR to the cluster and set '
    "`pretrained='local-dir:DIR'` (or point `pretrained` at an "
    'open_clip_pytorch_model.bin / .safetensors file). Set HF_HUB_OFFLINE=1 '
    'so a missing download fails at once instead of retrying.')
# What the first bytes of a weight file open_clip can read look like:
# torch.save zip archives and .npz (zip), legacy torch.save (pickle
# protocol >= 2), .npy.
WEIGHT_MAGIC = (b'PK\x03\x04', b'\x80', b'\x93NUMPY')
# Fragments of the errors a state dict of another architecture raises.
MISMATCH_HINTS = ('Error(s) in loading state_dict', 'size mismatch',
                  'pos_embed width changed', 'Missing key(s)',
                  'Unexpected key(s)')

HF_TOKENIZER_HELP = (
    'A local-dir: folder of a model with `text_cfg.hf_tokenizer_name` '
    "(SigLIP, HF text towers) must hold that tokenizer's files "
    '(tokenizer.json, vocab.txt, spiece.model...; '
    '`tokenizer.save_pretrained(folder)` writes them): open_clip reads the '
    'tokenizer from the folder itself.')


def _check_weight_file(path: str, model_name: str):
    """Refuse an empty or garbage weight file before open_clip reads it."""
    with open(path, 'rb') as f:
        head = f.read(16)
    if path.endswith('.safetensors'):
        ok = len(head) > 8 and head[8:9] == b'{'
    else:
        ok = head.startswith(WEIGHT_MAGIC)
    if not ok:
        raise ValueError(
            f'Teacher {model_name!r}: the weight file {path} is not a '
            f'PyTorch, safetensors or numpy checkpoint (it starts with '
            f'{head[:8]!r}, {osp.getsize(path)} bytes); it is corrupt, '
            'truncated or not a weight file. Download or stage it again.')


def _weight_files(pretrained: str) -> List[str]:
    if pretrained.startswith(LOCAL_DIR_PREFIX):
        folder = pretrained[len(LOCAL_DIR_PREFIX):]
        return [
            osp.join(folder, f) for f in loaded_files(folder)
            if f.endswith(WEIGHT_SUFFIXES)
        ]
    return [pretrained] if osp.isfile(pretrained) else []


def _first_line(error: BaseException, limit: int = 300) -> str:
    text = str(error).strip().splitlines()
    text = text[0] if text else type(error).__name__
    return text if len(text) <= limit else text[:limit] + '...'


@MODELS.register_module()
class OpenCLIPTeacher(BaseTeacher):
    """A frozen open_clip image-text model used as the BeamCLIP teacher.

    The teacher is built with :func:`open_clip.create_model`, so every
    open_clip architecture and weight source works: a pretrained tag
    (``'openai'``, ``'laion2b_s34b_b88k'``...), a weight file, or a
    ``local-dir:`` folder holding ``open_clip_config.json`` plus weights (the
    offline-cluster route, see ``tools/stage_teacher.py``). Freezing and the
    teacher interface are :class:`BaseTeacher`'s; every construction
    rebuilds the model from ``pretrained``.

    Args:
        model_name (str): open_clip model name, e.g. ``'ViT-B-16'``. Ignored
            for building when ``pretrained`` is a ``local-dir:`` folder (the
            folder's config wins) but kept as the label in logs.
        pretrained (str, optional): Pretrained tag, weight file path or
            ``'local-dir:<folder>'``. ``None`` means random weights and is
            refused unless ``allow_random_init=True``.
        cache_dir (str, optional): open_clip download cache. Defaults to None.
        precision (str): open_clip precision, ``'fp32'``, ``'fp16'``,
            ``'bf16'``, ``'pure_fp16'`` or ``'pure_bf16'``; anything else is
            refused. Outputs are always returned in fp32.
            Defaults to ``'fp32'``.
        force_quick_gelu (bool): Use QuickGELU, needed when loading OpenAI
            weights from a file into a non ``-quickgelu`` config.
            Defaults to False.
        input_mean (Sequence[float]): Per-channel mean of the student inputs
            (0-255 pixels, in ``input_channel_order``). The algorithm
            overwrites the whole input contract with its data preprocessor's
            (:meth:`follow_preprocessor`). Defaults to ImageNet's.
        input_std (Sequence[float]): Matching std. Defaults to ImageNet's.
        input_channel_order (str): ``'rgb'`` or ``'bgr'``, the channel order
            of the student inputs. Defaults to ``'rgb'``.
        image_size (int, optional): Override the teacher's input size.
            Defaults to the size in the model's preprocess config.
        text_batch_size (int): Prompts per forward in :meth:`encode_text`
            (>= 1). Defaults to 256.
        text_only (bool): Drop the image tower once the model is loaded
            (for a teacher that only encodes prompts, e.g. the text side of
            :class:`CachedTeacher`). The id is unchanged. Defaults to False.
        allow_random_init (bool): Accept ``pretrained=None`` (random weights).
            For tests only. Defaults to False.
        save_teacher (bool): Keep the teacher's tensors in ``state_dict()``.
            Defaults to False.
        init_cfg (dict, optional): Must stay None; the teacher is loaded from
            ``pretrained``, never initialised.
    """

    def __init__(self,
                 model_name: str,
                 pretrained: Optional[str] = None,
                 cache_dir: Optional[str] = None,
                 precision: str = 'fp32',
                 force_quick_gelu: bool = False,
                 input_mean: Sequence[float] = IMAGENET_MEAN,
                 input_std: Sequence[float] = IMAGENET_STD,
                 input_channel_order: str = 'rgb',
                 image_size: Optional[int] = None,
                 text_batch_size: int = 256,
                 text_only: bool = False,
                 allow_random_init: bool = False,
                 save_teacher: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(save_teacher=save_teacher, init_cfg=init_cfg)
        if pretrained is None and not allow_random_init:
            raise ValueError(
                f'OpenCLIPTeacher({model_name!r}) got pretrained=None, which '
                'would silently give a randomly initialised teacher. Pass a '
                'pretrained tag, a weight file or a local-dir: folder. '
                '(Tests may pass allow_random_init=True.)')
        check_precision(precision, f'OpenCLIPTeacher({model_name!r})')
        if int(text_batch_size) < 1:
            raise ValueError(f'OpenCLIPTeacher({model_name!r}): '
                             f'text_batch_size={text_batch_size} must be '
                             '>= 1.')
        if image_size is not None:
            check_range('image_size', image_size, 1, integer=True,
                        owner=f'OpenCLIPTeacher({model_name!r})')
        self.model_name = model_name
        self.pretrained = pretrained
        self.precision = precision
        self.force_quick_gelu = force_quick_gelu
        self.text_batch_size = int(text_batch_size)
        self.text_only = text_only

        self.model = self._create_model(model_name, pretrained, cache_dir,
                                        precision, force_quick_gelu)
        self.tokenizer = self._get_tokenizer()
        preprocess = open_clip.get_model_preprocess_cfg(self.model)
        size = image_size or preprocess['size']
        self.image_size = (size, size) if isinstance(size, int) else tuple(
            size)
        self.clip_mean = tuple(float(m) for m in preprocess['mean'])
        self.clip_std = tuple(float(s) for s in preprocess['std'])
        self.interpolation = resize_mode_of(
            preprocess.get('interpolation'), model_name)
        self.quick_gelu = any(
            isinstance(m, QuickGELU) for m in self.model.modules())
        if text_only:
            # The image tower is most of a CLIP's weights; nothing here
            # would ever run it.
            self.model.visual = None
        self.register_buffer('_scale', torch.ones(1, 3, 1, 1), False)
        self.register_buffer('_shift', torch.zeros(1, 3, 1, 1), False)
        self.set_input_preprocessing(
            InputPreprocessing(input_mean, input_std, input_channel_order))
        self.freeze()
        self.embed_dim = int(self.encode_text(['a photo.']).shape[-1])
        self.teacher_id = open_clip_teacher_id(self.model_name,
                                               self.pretrained,
                                               self.precision,
                                               self.force_quick_gelu)

        MMLogger.get_current_instance().info(
            f'OpenCLIPTeacher: {self.teacher_id} '
            f'(embed_dim={self.embed_dim}, image_size={self.image_size}, '
            f'quick_gelu={self.quick_gelu}, text_only={text_only})')

    # ------------------------------------------------------------------ build
    def _create_model(self, model_name, pretrained, cache_dir, precision,
                      force_quick_gelu):
        if self._is_local_dir(pretrained):
            folder = pretrained[len(LOCAL_DIR_PREFIX):]
            if not osp.isfile(osp.join(folder, CONFIG_FILE)):
                raise FileNotFoundError(
                    f'Teacher {model_name!r}: local-dir folder {folder!r} has '
                    f'no {CONFIG_FILE}. ' + STAGING_HELP.format(
                        model=model_name, tag='TAG'))
            read_local_dir_config(folder)  # names the file if it is broken
            name, weights = pretrained, None
        else:
            name, weights = model_name, pretrained
            if model_name.replace('/', '-') not in open_clip.list_models():
                raise ValueError(
                    f'Unknown open_clip model {model_name!r}. Known models: '
                    f'{", ".join(open_clip.list_models())}')
            if weights is not None and not osp.isfile(weights):
                tags = open_clip.list_pretrained_tags_by_model(model_name)
                if weights not in tags:
                    raise ValueError(
                        f'Teacher {model_name!r}: pretrained={weights!r} is '
                        'neither an existing weight file nor a known '
                        f'pretrained tag of this model (known tags: {tags}).')
        files = _weight_files(pretrained) if pretrained else []
        for path in files:
            _check_weight_file(path, model_name)
        try:
            return open_clip.create_model(
                name,
                pretrained=weights,
                precision=precision,
                cache_dir=cache_dir,
                force_quick_gelu=force_quick_gelu,
                require_pretrained=pretrained is not None)
        except Exception as e:
            where = ', '.join(files) or pretrained
            if any(h in str(e) for h in MISMATCH_HINTS):
                raise ValueError(
                    f'The weights in {where} do not fit the open_clip model '
                    f'{model_name!r} (state-dict mismatch: {_first_line(e)}). '
                    'Set model_name to the architecture these weights were '
                    'trained with, or stage them with '
                    'tools/stage_teacher.py.') from e
            if files:
                raise ValueError(
                    f'Could not read the teacher weights {where} for '
                    f'{model_name!r}: {_first_line(e)}. The file is '
                    'corrupt, truncated or not an open_clip checkpoint.') \
                    from e
            raise RuntimeError(
                f'Could not load the open_clip teacher {model_name!r} with '
                f'pretrained={pretrained!r}: {e}\n' +
                STAGING_HELP.format(model=model_name, tag=pretrained)) from e

    def _get_tokenizer(self):
        """The model's own tokenizer, refused when it cannot tokenize."""
        name = self.pretrained if self._is_local_dir() else self.model_name
        try:
            tokenizer = open_clip.get_tokenizer(name)
        except Exception as e:
            raise RuntimeError(
                f'Teacher {self.model_name!r}: could not build the tokenizer '
                f'of {name!r}: {e}\n' + HF_TOKENIZER_HELP) from e
        # An HF tokenizer read from a folder without its vocabulary files
        # knows only its special tokens: every prompt would embed the same.
        hf = getattr(tokenizer, 'tokenizer', None)
        if hf is not None and len(hf) <= len(hf.all_special_ids):
            raise FileNotFoundError(
                f'Teacher {self.model_name!r}: the Hugging Face tokenizer of '
                f'{name!r} has no vocabulary, only its {len(hf)} special '
                'tokens.\n' + HF_TOKENIZER_HELP)
        return tokenizer

    def _is_local_dir(self, pretrained: Optional[str] = None) -> bool:
        pretrained = pretrained or self.pretrained
        return bool(pretrained) and pretrained.startswith(LOCAL_DIR_PREFIX)

    # ----------------------------------------------------------------- input
    def set_input_preprocessing(self, preprocessing: InputPreprocessing):
        """Record the student's input contract (see :class:`BaseTeacher`).

        Precomputes one affine map per channel: with the channels in RGB
        order, ``x_clip = (x * std + mean - clip_mean) / clip_std``.
        """
        super().set_input_preprocessing(preprocessing)
        rgb = slice(None, None, -1) if preprocessing.channel_order == 'bgr' \
            else slice(None)
        mean = torch.tensor(preprocessing.mean[rgb]).view(1, 3, 1, 1)
        std = torch.tensor(preprocessing.std[rgb]).view(1, 3, 1, 1)
        clip_mean = torch.tensor(self.clip_mean).view(1, 3, 1, 1) * 255
        clip_std = torch.tensor(self.clip_std).view(1, 3, 1, 1) * 255
        self._scale.copy_(std / clip_std)
        self._shift.copy_((mean - clip_mean) / clip_std)

    def preprocess(self, inputs: torch.Tensor) -> torch.Tensor:
        """Turn student inputs into what the teacher expects.

        Args:
            inputs (Tensor): Student inputs (see :attr:`input_preprocessing`),
                shape (N, 3, H, W).

        Returns:
            Tensor: CLIP-normalised RGB images at the teacher's input size,
            shape (N, 3, H_t, W_t).
        """
        if inputs.dim() != 4 or inputs.shape[1] != 3:
            raise ValueError('The teacher takes (N, 3, H, W) images, got '
                             f'shape {tuple(inputs.shape)}.')
        x = inputs.float()
        if self.input_preprocessing.channel_order == 'bgr':
            x = x.flip(1)
        x = x * self._scale + self._shift
        if tuple(x.shape[-2:]) != self.image_size:
            x = F.interpolate(
                x,
                size=self.image_size,
                mode=self.interpolation,
                **resize_options(self.interpolation,
                                 x.shape[-1] > self.image_size[-1]))
        return x

    # ---------------------------------------------------------------- encode
    @torch.no_grad()
    def encode_image(self, inputs: torch.Tensor) -> torch.Tensor:
        """Embed a batch of student inputs.

        Args:
            inputs (Tensor): Images as the student gets them, shape
                (N, 3, H, W).

        Returns:
            Tensor: L2-normalised fp32 image embeddings, shape (N, D).
        """
        if self.text_only:
            raise RuntimeError(
                f'OpenCLIPTeacher({self.model_name!r}) was built with '
                'text_only=True and has no image tower.')
        x = self.preprocess(inputs)
        dtype = get_input_dtype(self.precision)
        if dtype is not None:
            x = x.to(dtype)
        return self.model.encode_image(x, normalize=True).float()

    @torch.no_grad()
    def encode_text(self,
                    texts: List[str],
                    batch_size: Optional[int] = None) -> torch.Tensor:
        """Embed prompts in batches.

        Args:
            texts (list[str]): T prompts.
            batch_size (int, optional): Prompts per forward. Defaults to
                ``text_batch_size``.

        Returns:
            Tensor: L2-normalised fp32 text embeddings, shape (T, D).
        """
        if isinstance(texts, str):
            texts = [texts]
        batch_size = self.text_batch_size if batch_size is None else int(
            batch_size)
        if batch_size < 1:
            raise ValueError(f'encode_text: batch_size={batch_size} must be '
                             '>= 1.')
        device = self._scale.device
        out = []
        for i in range(0, len(texts), batch_size):
            tokens = self.tokenizer(texts[i:i + batch_size]).to(device)
            out.append(
                self.model.encode_text(tokens, normalize=True).float())
        if not out:
            return torch.zeros(0, 0, device=device)
        return torch.cat(out)
