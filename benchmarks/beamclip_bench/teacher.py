"""The teacher of a benchmark run: its spec (the CLIP-proxy teacher built
where asked for), its teacher-target cache for the rows, and its own
reference numbers (the ceiling of what a student can inherit)."""
import os.path as osp
from typing import List

import torch
from mmpretrain.registry import MODELS

import mmbeamclip  # noqa: F401  (registers the plugin's modules)
from mmbeamclip.prompts import (build_prompt_bank, format_prompts,
                                resolve_classnames, resolve_templates)
from .common import PROXY_LABEL, is_proxy, teacher_cfg
from .probes import encode_images, fit_logreg
from .row_configs import pretrain_config
from .rows import CACHE_ROW
from .view_cache import build_view_cache


@torch.no_grad()
def teacher_embeddings(teacher, files: List[list], root: str, size: int,
                       batch_size: int = 64) -> tuple:
    """A teacher's embeddings of whole images, resized to ``size``.

    Returns:
        tuple[Tensor, Tensor]: Embeddings (N, D) and labels (N,).
    """
    return encode_images(teacher.encode_image, files, root, size, batch_size)


def teacher_reference(tcfg: dict, data: dict, profile: dict,
                      templates) -> dict:
    """The teacher's own zero-shot and linear-probe accuracy on val: the
    ceiling of what a student of it can inherit.

    Zero-shot: argmax cosine to the prompt bank of the dataset's classes
    with the CSM row's templates. Linear probe: the converged probe
    (:func:`fit_logreg`) on the teacher's embeddings of the whole image at
    its own input size (the teacher is not a ResNet, so the students'
    mmpretrain recipe does not apply).
    """
    size = profile['teacher_size']
    root = data['data_root']
    teacher = MODELS.build(tcfg)
    xtr, ytr = teacher_embeddings(teacher, data['probe_files'],
                                  osp.join(root, 'train'), size)
    xva, yva = teacher_embeddings(teacher, data['val_files'],
                                  osp.join(root, 'val'), size)
    names = resolve_classnames(data['classes'])
    bank, _ = build_prompt_bank(
        teacher.encode_text,
        format_prompts(names, resolve_templates(templates)),
        progress=False)
    zs = float(((xva @ bank.t()).argmax(-1) == yva).float().mean())
    return dict(
        zero_shot=100 * zs, linear_probe=fit_logreg(xtr, ytr, xva, yva))


def build_teacher_spec(spec: str, data: dict, profile: dict, work_dir: str,
                       log=print) -> str:
    """``spec`` itself, or for ``'proxy'`` the CLIP-proxy teacher built (or
    reused) in ``work_dir/proxy_teacher_<data folder>`` from the unlabeled
    train images (one folder per dataset: a proxy of other images is
    replaced, not reused)."""
    if spec != 'proxy':
        return spec
    from .proxy import build_proxy_teacher
    folder = osp.basename(osp.normpath(data['data_root']))
    return build_proxy_teacher(
        osp.join(work_dir, f'proxy_teacher_{folder}'),
        osp.join(data['data_root'], 'train'),
        max_images=profile['proxy_max_images'],
        image_size=profile['teacher_size'],
        steps=profile['proxy_steps'],
        templates=profile['proxy_templates'],
        max_classes=profile['proxy_max_classes'],
        progress=False,
        log=log)


def cache_teacher(spec: str, data: dict, profile: dict, work_dir: str,
                  log=print) -> dict:
    """The view-matched teacher every teacher row reads, cache built.

    Returns:
        dict: ``cfg`` (the online teacher), ``spec``, ``label``,
        ``cache_dir``, ``embed_dim``, ``num_views`` and ``templates`` (of
        the CSM row's prompt bank, for the teacher's own zero-shot).
    """
    tcfg = teacher_cfg(spec, profile['teacher_size'])
    cfg = pretrain_config(CACHE_ROW, data, profile, 0,
                          dict(cfg=tcfg, embed_dim=None))
    manifest = build_view_cache(cfg, work_dir, profile, log)
    hook = [h for h in cfg.custom_hooks if h['type'] == 'PromptBankHook']
    return dict(
        cfg=tcfg,
        spec=spec,
        label=PROXY_LABEL if is_proxy(spec) else f'teacher {spec}',
        cache_dir=cfg.model['target_generator']['cache_dir'],
        embed_dim=int(manifest['embed_dim']),
        num_views=int(manifest['views']['num_views']),
        templates=hook[0]['templates'])
