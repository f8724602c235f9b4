import hashlib
import json
import os
import os.path as osp
from typing import List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.logging import MMLogger
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS

# Student inputs are normalised with ImageNet statistics on 0-255 RGB pixels
# unless the algorithm tells the teacher otherwise.
IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)
LOCAL_DIR_PREFIX = 'local-dir:'

STAGING_HELP = (
    'On a machine without internet, stage the weights first: on a machine '
    'with internet run `python tools/stage_teacher.py {model} {tag} '
    '--out DIR`, copy DIR to the cluster and set '
    "`pretrained='local-dir:DIR'` (or point `pretrained` at an "
    'open_clip_pytorch_model.bin / .safetensors file). Set HF_HUB_OFFLINE=1 '
    'so a missing download fails at once instead of retrying.')

HF_TOKENIZER_HELP = (
    'A local-dir: folder of a model with `text_cfg.hf_tokenizer_name` '
    "(SigLIP, HF text towers) must hold that tokenizer's files "
    '(tokenizer.json, vocab.txt, spiece.model...; '
    '`tokenizer.save_pretrained(folder)` writes them): open_clip reads the '
    'tokenizer from the folder itself.')


def _drop_teacher_state(module, state_dict, prefix, local_metadata):
    """State-dict hook that removes the teacher's tensors from checkpoints.

    A module-level function, not a bound method, so ``deepcopy`` of the model
    (e.g. by EMA hooks) stays safe.
    """
    if module.save_teacher:
        return state_dict
    for key in [k for k in state_dict if k.startswith(prefix)]:
        del state_dict[key]
    return state_dict


def _file_fingerprint(path: str) -> str:
    """Cheap identity of a weight file: name, size and a hash of its head."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        digest.update(f.read(1 << 22))
    size = osp.getsize(path)
    return f'{osp.basename(path)}:{size}:{digest.hexdigest()[:16]}'


def open_clip_teacher_id(model_name: str,
                         pretrained: Optional[str] = None,
                         precision: str = 'fp32',
                         force_quick_gelu: bool = False) -> str:
    """Identity of an :class:`OpenCLIPTeacher`, computed without building it.

    Prompt banks and teacher-target caches are keyed by it, and a cached
    teacher compares it with its cache's manifest without loading weights.

    Args:
        model_name (str): open_clip model name.
        pretrained (str, optional): Tag, weight file or ``local-dir:`` folder.
        precision (str): open_clip precision. Defaults to ``'fp32'``.
        force_quick_gelu (bool): Defaults to False.

    Returns:
        str: A JSON string (model, weight source fingerprint, precision,
        QuickGELU flag, open_clip version).
    """
    import open_clip
    if pretrained is None:
        source = 'random-init'
    elif pretrained.startswith(LOCAL_DIR_PREFIX):
        folder = pretrained[len(LOCAL_DIR_PREFIX):]
        with open(osp.join(folder, 'open_clip_config.json'), 'rb') as f:
            config = hashlib.sha256(f.read()).hexdigest()[:16]
        weights = sorted(
            f for f in os.listdir(folder)
            if f.startswith('open_clip_') and not f.endswith('.json'))
        source = f'local-dir:{config}:' + ','.join(
            _file_fingerprint(osp.join(folder, w)) for w in weights)
    elif osp.isfile(pretrained):
        source = 'file:' + _file_fingerprint(pretrained)
    else:
        source = f'tag:{pretrained}'
    return json.dumps(
        dict(
            model=model_name,
            source=source,
            precision=precision,
            quick_gelu=force_quick_gelu,
            open_clip=open_clip.__version__),
        sort_keys=True)


@MODELS.register_module()
class OpenCLIPTeacher(BaseModule):
    """A frozen open_clip image-text model used as the BeamCLIP teacher.

    The teacher is built with :func:`open_clip.create_model`, so every
    open_clip architecture and weight source works: a pretrained tag
    (``'openai'``, ``'laion2b_s34b_b88k'``...), a weight file, or a
    ``local-dir:`` folder holding ``open_clip_config.json`` plus weights (the
    offline-cluster route, see ``tools/stage_teacher.py``).

    It is frozen for real: no parameter requires grad, it stays in eval mode
    through ``model.train()``, ``init_weights()`` never touches it, and its
    tensors are left out of ``state_dict()`` (and so of checkpoints) unless
    ``save_teacher=True``. Every construction rebuilds it from ``pretrained``.

    Args:
        model_name (str): open_clip model name, e.g. ``'ViT-B-16'``. Ignored
            for building when ``pretrained`` is a ``local-dir:`` folder (the
            folder's config wins) but kept as the label in logs.
        pretrained (str, optional): Pretrained tag, weight file path or
            ``'local-dir:<folder>'``. ``None`` means random weights and is
            refused unless ``allow_random_init=True``.
        cache_dir (str, optional): open_clip download cache. Defaults to None.
        precision (str): open_clip precision, ``'fp32'``, ``'fp16'``,
            ``'bf16'``, ``'pure_fp16'`` or ``'pure_bf16'``. Outputs are always
            returned in fp32. Defaults to ``'fp32'``.
        force_quick_gelu (bool): Use QuickGELU, needed when loading OpenAI
            weights from a file into a non ``-quickgelu`` config.
            Defaults to False.
        input_mean (Sequence[float]): Per-channel mean that the student inputs
            were normalised with (0-255 RGB). The algorithm overwrites it with
            its data preprocessor's values. Defaults to ImageNet's.
        input_std (Sequence[float]): Matching std. Defaults to ImageNet's.
        image_size (int, optional): Override the teacher's input size.
            Defaults to the size in the model's preprocess config.
        text_batch_size (int): Prompts per forward in :meth:`encode_text`.
            Defaults to 256.
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
                 image_size: Optional[int] = None,
                 text_batch_size: int = 256,
                 allow_random_init: bool = False,
                 save_teacher: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=None)
        if init_cfg is not None:
            raise ValueError('OpenCLIPTeacher takes its weights from '
                             '`pretrained`; `init_cfg` would overwrite them.')
        if pretrained is None and not allow_random_init:
            raise ValueError(
                f'OpenCLIPTeacher({model_name!r}) got pretrained=None, which '
                'would silently give a randomly initialised teacher. Pass a '
                'pretrained tag, a weight file or a local-dir: folder. '
                '(Tests may pass allow_random_init=True.)')
        self.model_name = model_name
        self.pretrained = pretrained
        self.precision = precision
        self.force_quick_gelu = force_quick_gelu
        self.text_batch_size = text_batch_size
        self.save_teacher = save_teacher

        self.model = self._create_model(model_name, pretrained, cache_dir,
                                        precision, force_quick_gelu)
        self.model.eval()
        self.model.requires_grad_(False)
        self.tokenizer = self._get_tokenizer()
        self._is_init = True

        import open_clip
        preprocess = open_clip.get_model_preprocess_cfg(self.model)
        size = image_size or preprocess['size']
        self.image_size = (size, size) if isinstance(size, int) else tuple(
            size)
        self.clip_mean = tuple(float(m) for m in preprocess['mean'])
        self.clip_std = tuple(float(s) for s in preprocess['std'])
        self.register_buffer('_scale', torch.ones(1, 3, 1, 1), False)
        self.register_buffer('_shift', torch.zeros(1, 3, 1, 1), False)
        self.set_input_normalization(input_mean, input_std)
        self._register_state_dict_hook(_drop_teacher_state)
        self.embed_dim = int(self.encode_text(['a photo.']).shape[-1])
        self.teacher_id = self._make_teacher_id()

        MMLogger.get_current_instance().info(
            f'OpenCLIPTeacher: {self.teacher_id} '
            f'(embed_dim={self.embed_dim}, image_size={self.image_size}, '
            f'quick_gelu={self._uses_quick_gelu()})')

    # ------------------------------------------------------------------ build
    def _create_model(self, model_name, pretrained, cache_dir, precision,
                      force_quick_gelu):
        import open_clip
        is_local_dir = bool(pretrained) and pretrained.startswith(
            LOCAL_DIR_PREFIX)
        if is_local_dir:
            folder = pretrained[len(LOCAL_DIR_PREFIX):]
            if not osp.isfile(osp.join(folder, 'open_clip_config.json')):
                raise FileNotFoundError(
                    f'Teacher {model_name!r}: local-dir folder {folder!r} has '
                    'no open_clip_config.json. ' + STAGING_HELP.format(
                        model=model_name, tag='TAG'))
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
        try:
            return open_clip.create_model(
                name,
                pretrained=weights,
                precision=precision,
                cache_dir=cache_dir,
                force_quick_gelu=force_quick_gelu,
                require_pretrained=pretrained is not None)
        except Exception as e:
            raise RuntimeError(
                f'Could not load the open_clip teacher {model_name!r} with '
                f'pretrained={pretrained!r}: {e}\n' +
                STAGING_HELP.format(model=model_name, tag=pretrained)) from e

    def _get_tokenizer(self):
        import open_clip
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

    def _is_local_dir(self) -> bool:
        return bool(self.pretrained) and self.pretrained.startswith(
            LOCAL_DIR_PREFIX)

    def _uses_quick_gelu(self) -> bool:
        from open_clip.transformer import QuickGELU
        return any(isinstance(m, QuickGELU) for m in self.model.modules())

    # -------------------------------------------------------------- freezing
    def train(self, mode: bool = True):
        """Keep the teacher in eval mode whatever the caller asks for."""
        return super().train(False)

    def init_weights(self):
        """Do nothing: the weights come from ``pretrained``."""

    # -------------------------------------------------------------- identity
    def _make_teacher_id(self) -> str:
        """Identity of the teacher weights, used to key prompt banks."""
        return open_clip_teacher_id(self.model_name, self.pretrained,
                                    self.precision, self.force_quick_gelu)

    # ----------------------------------------------------------------- input
    def set_input_normalization(self, mean: Sequence[float],
                                std: Sequence[float]):
        """Tell the teacher how the student's inputs were normalised.

        The teacher undoes that normalisation and applies its own, so both
        networks can share one crop.

        Args:
            mean (Sequence[float]): Per-channel mean on 0-255 RGB pixels.
            std (Sequence[float]): Per-channel std on 0-255 RGB pixels.
        """
        mean = torch.as_tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
        std = torch.as_tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
        clip_mean = torch.tensor(self.clip_mean).view(1, 3, 1, 1) * 255
        clip_std = torch.tensor(self.clip_std).view(1, 3, 1, 1) * 255
        # x_clip = (x * std + mean - clip_mean) / clip_std
        self._scale.copy_(std / clip_std)
        self._shift.copy_((mean - clip_mean) / clip_std)

    def preprocess(self, inputs: torch.Tensor) -> torch.Tensor:
        """Turn student-normalised images into what the teacher expects.

        Args:
            inputs (Tensor): Student-normalised RGB images, shape (N, 3, H, W).

        Returns:
            Tensor: CLIP-normalised images at the teacher's input size,
            shape (N, 3, H_t, W_t).
        """
        x = inputs.float() * self._scale + self._shift
        if tuple(x.shape[-2:]) != self.image_size:
            x = F.interpolate(
                x,
                size=self.image_size,
                mode='bicubic',
                align_corners=False,
                antialias=x.shape[-1] > self.image_size[-1])
        return x

    # ---------------------------------------------------------------- encode
    def _input_dtype(self):
        from open_clip.model import get_input_dtype
        return get_input_dtype(self.precision)

    @torch.no_grad()
    def encode_image(self, inputs: torch.Tensor) -> torch.Tensor:
        """Embed a batch of student-normalised images.

        Args:
            inputs (Tensor): Images normalised like the student's input,
                shape (N, 3, H, W).

        Returns:
            Tensor: L2-normalised fp32 image embeddings, shape (N, D).
        """
        x = self.preprocess(inputs)
        dtype = self._input_dtype()
        if dtype is not None:
            x = x.to(dtype)
        return self.model.encode_image(x, normalize=True).float()

    @torch.no_grad()
    def encode_text(self,
                    texts: List[str],
                    batch_size: Optional[int] = None) -> torch.Tensor:
        """Embed prompts in batches.

        Args:
            texts (list[str]): Prompts.
            batch_size (int, optional): Prompts per forward. Defaults to
                ``text_batch_size``.

        Returns:
            Tensor: L2-normalised fp32 text embeddings, shape (len(texts), D).
        """
        if isinstance(texts, str):
            texts = [texts]
        batch_size = batch_size or self.text_batch_size
        device = self._scale.device
        out = []
        for i in range(0, len(texts), batch_size):
            tokens = self.tokenizer(texts[i:i + batch_size]).to(device)
            out.append(
                self.model.encode_text(tokens, normalize=True).float())
        if not out:
            return torch.zeros(0, 0, device=device)
        return torch.cat(out)

    def forward(self,
                inputs: torch.Tensor,
                data_samples: Optional[list] = None) -> torch.Tensor:
        """The ``target_generator`` call: :meth:`encode_image` of the crop.

        Args:
            inputs (Tensor): Student-normalised images, shape (N, 3, H, W).
            data_samples (list, optional): Unused here; teachers that replay
                cached targets look samples up through them.

        Returns:
            Tensor: L2-normalised fp32 image embeddings, shape (N, D).
        """
        return self.encode_image(inputs)
