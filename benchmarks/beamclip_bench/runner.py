"""Equal-budget quality benchmark: data subsets, teacher cache, row runs.

Every row is trained by mmpretrain's **stock** ``tools/train.py`` in a
subprocess, on a config from ``benchmarks/configs`` (each inherits a shipped
config) that this module adapts to the profile (image size, epochs, batch,
optimizer and schedule, data subsets, teacher, cache folder) and dumps into
the row's work dir. Teacher rows read view-matched targets from one
teacher-target cache (``CachedTeacher`` + ``ReplayCachedView``), built once
per teacher, data subset and view recipe by the package's builder. Every
backbone is then probed with the same converged logistic-regression probe
(and, where the profile asks, the stock SGD linear probe).
"""
import glob
import hashlib
import json
import math
import os
import os.path as osp
import random
import subprocess
import sys
import time
from typing import Dict, List, Optional

import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmpretrain.models import ResNet
from mmpretrain.registry import DATASETS, MODELS

import mmbeamclip  # noqa: F401  (registers the plugin's modules)
from mmbeamclip.prompts import (build_prompt_bank, format_prompts,
                                resolve_classnames, resolve_templates)
from mmbeamclip.teacher_cache import (build_teacher_cache_from_config,
                                      dataset_fingerprint, read_manifest)
from mmbeamclip.utils import atomic_write
from .common import (CONFIG_DIR, IMAGE_EXTS, IMAGENET_MEAN, IMAGENET_STD,
                     PROXY_LABEL, REPO, is_proxy, load_image, teacher_cfg)

# Profiles. `quick` fits a 2-core CPU in about an hour (see
# docs/benchmark.md for the budget); `full` is for a GPU; `demo` is
# tools/demo.py (a first run within 10 minutes on 2 cores); `smoke` is the CI
# plumbing test (a handful of images, a few iterations). `num_views`: views
# per image in the teacher-target cache (replayed one per epoch);
# `stock_probe`: also run the stock SGD linear probe through train.py;
# `proxy_templates`: the ImageNet prompt templates the proxy's projections
# are fitted on (the demo's one template saves ~6,000 MiniLM passes).
PROFILES = {
    'quick':
    dict(
        img_size=64,
        teacher_size=128,
        epochs=4,
        batch_size=64,
        lr=0.05,
        train_per_class=300,
        probe_per_class=100,
        heldout_per_class=100,
        probe_epochs=10,
        val_per_class=200,
        seeds=[0, 1, 2],
        num_views=8,
        stock_probe=True,
        proxy_max_images=3000,
        proxy_steps=1500,
        proxy_templates='simple_imagenet',
        proxy_max_classes=None,
        num_workers=2),
    # `quick` at 4x the epochs: long enough for the rows to separate (the
    # teacher-target cache makes the teacher a one-off cost, so a longer
    # schedule costs only student steps). Same data, proxy and cache as
    # `quick`; the converged probe only, with a held-out probe curve every
    # `curve_every` epochs (first seed).
    'long':
    dict(
        img_size=64,
        teacher_size=128,
        epochs=16,
        batch_size=64,
        lr=0.05,
        train_per_class=300,
        probe_per_class=100,
        heldout_per_class=100,
        probe_epochs=10,
        val_per_class=200,
        seeds=[0, 1, 2],
        num_views=8,
        stock_probe=False,
        curve_every=4,
        proxy_max_images=3000,
        proxy_steps=1500,
        proxy_templates='simple_imagenet',
        proxy_max_classes=None,
        num_workers=2),
    'full':
    dict(
        img_size=128,
        teacher_size=128,
        epochs=100,
        batch_size=256,
        lr=0.2,
        train_per_class=None,
        probe_per_class=None,
        heldout_per_class=50,
        probe_epochs=100,
        val_per_class=None,
        seeds=[0, 1, 2],
        num_views=10,
        stock_probe=True,
        proxy_max_images=9469,
        proxy_steps=3000,
        proxy_templates='simple_imagenet',
        proxy_max_classes=None,
        num_workers=8),
    'demo':
    dict(
        img_size=32,
        teacher_size=64,
        epochs=5,
        batch_size=64,
        lr=0.05,
        train_per_class=None,
        probe_per_class=100,
        heldout_per_class=None,
        probe_epochs=10,
        val_per_class=None,
        seeds=[0],
        num_views=5,
        stock_probe=False,
        proxy_max_images=1000,
        proxy_steps=500,
        proxy_templates='vanilla',
        proxy_max_classes=None,
        num_workers=1),
    'smoke':
    dict(
        img_size=32,
        teacher_size=32,
        epochs=1,
        batch_size=4,
        lr=0.05,
        train_per_class=4,
        probe_per_class=4,
        heldout_per_class=2,
        probe_epochs=1,
        val_per_class=2,
        seeds=[0],
        num_views=2,
        stock_probe=True,
        proxy_max_images=8,
        proxy_steps=5,
        proxy_templates='vanilla',
        proxy_max_classes=50,
        num_workers=0),
}

# name -> label, config (None: no pre-training), backbone passes per image
# and epoch of the profile's schedule, whether it reads the teacher, and
# the fraction of the profile's epochs it trains (default 1).
ROWS = {
    'random': dict(label='random init', config=None, passes=0),
    'supervised': dict(
        label='supervised (labels)', config='supervised_resnet18.py',
        passes=1),
    'simclr': dict(
        label='SimCLR (mmpretrain)', config='simclr_resnet18.py', passes=2),
    # Two views per step for half the epochs: the one-pass rows' cost.
    'simclr_half': dict(
        label='SimCLR (mmpretrain), half the epochs',
        config='simclr_resnet18.py',
        passes=1,
        epochs_fraction=0.5),
    'featreg': dict(
        label='feature regression (cos to teacher)',
        config='featreg_resnet18.py',
        passes=1,
        teacher=True),
    'csm': dict(
        label='BeamCLIP CSM, dataset-class anchors',
        config='csm_resnet18.py',
        passes=1,
        teacher=True),
    'csm_in1k': dict(
        label='BeamCLIP CSM, ImageNet-1k anchors',
        config='csm_in1k_resnet18.py',
        passes=1,
        teacher=True),
    'csm_generic': dict(
        label='BeamCLIP CSM, generic vocabulary anchors',
        config='csm_generic_resnet18.py',
        passes=1,
        teacher=True),
    'csm_wordnet': dict(
        label='BeamCLIP CSM, raw WordNet-name anchors',
        config='csm_wordnet_resnet18.py',
        passes=1,
        teacher=True),
    'csm_cpa': dict(
        label='BeamCLIP CSM + CPA (raw WordNet names + hypernyms)',
        config='csm_cpa_resnet18.py',
        passes=1,
        teacher=True),
    'csm_in1k_taueq': dict(
        label='BeamCLIP CSM, ImageNet-1k anchors, tau_s = tau_t',
        config='csm_in1k_taueq_resnet18.py',
        passes=1,
        teacher=True),
    'csm_in1k_taulearn': dict(
        label='BeamCLIP CSM, ImageNet-1k anchors, learnt tau_s',
        config='csm_in1k_taulearn_resnet18.py',
        passes=1,
        teacher=True),
    'csm_in1k_embed': dict(
        label='BeamCLIP CSM, ImageNet-1k anchors + embedding term',
        config='csm_in1k_embed_resnet18.py',
        passes=1,
        teacher=True),
    'csm_ssl': dict(
        label='BeamCLIP CSM + SSL',
        config='csm_ssl_resnet18.py',
        passes=2,
        teacher=True),
}
DEFAULT_ROWS = list(ROWS)
# The row whose config defines the cached views every teacher row replays.
CACHE_ROW = 'csm'


# ------------------------------------------------------------------- data
def class_folders(root: str, split: str) -> List[str]:
    """Sorted class folder names of an ImageNet-layout split."""
    d = osp.join(root, split)
    return sorted(c for c in os.listdir(d) if osp.isdir(osp.join(d, c)))


def split_files(root: str, split: str, classes: List[str]) -> List[list]:
    """Per class, the sorted image paths relative to ``root/split``."""
    out = []
    for c in classes:
        d = osp.join(root, split, c)
        out.append(
            sorted(
                osp.join(c, f) for f in os.listdir(d)
                if f.lower().endswith(IMAGE_EXTS)))
    return out


def per_class_subset(files: List[list], n: Optional[int],
                     seed: int) -> List[list]:
    """The first ``n`` of each class after a seeded shuffle (all if None).

    Taking a prefix of one fixed shuffle makes smaller subsets nest in
    larger ones (the probe subset lies inside the pre-training subset).
    """
    return per_class_split(files, n, None, seed)[0]


def per_class_split(files: List[list], n: Optional[int],
                    heldout: Optional[int], seed: int) -> tuple:
    """A subset (as :func:`per_class_subset`) and a held-out part of
    ``heldout`` images per class, disjoint from it.

    The held-out images come after the subset in the same seeded shuffle
    (from its end when the subset takes everything else), so adding a
    held-out part does not change the subset when ``n`` leaves room.

    Returns:
        tuple[list[list], list[list]]: Subset and held-out files per class.
    """
    rng = random.Random(seed)
    subset, held = [], []
    for fs in files:
        fs = list(fs)
        rng.shuffle(fs)
        h = heldout or 0
        if n and n + h <= len(fs):
            subset.append(sorted(fs[:n]))
            held.append(sorted(fs[n:n + h]))
        else:
            if h and h >= len(fs):
                raise ValueError(
                    f'a class has {len(fs)} train images, too few for a '
                    f'held-out part of {h}')
            rest = fs[:len(fs) - h]
            subset.append(sorted(rest[:n] if n else rest))
            held.append(sorted(fs[len(fs) - h:]))
    return subset, held


def write_ann(path: str, files: List[list]) -> int:
    """An mmpretrain ``CustomDataset`` annotation file: ``path label``."""
    lines = [f'{f} {label}' for label, fs in enumerate(files) for f in fs]
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return len(lines)


def prepare_data(data_root: str, work_dir: str, profile: dict,
                 seed: int = 0) -> dict:
    """Write the annotation files of the profile's subsets.

    Besides the pre-training, probe and val subsets, a profile with
    ``heldout_per_class`` gets a held-out part of train, disjoint from the
    pre-training images: every choice (anchor vocabulary, method option,
    schedule) is made on it, never on val.

    Returns:
        dict: ``classes``, ann file paths and file lists per subset.
    """
    classes = class_folders(data_root, 'train')
    if class_folders(data_root, 'val') != classes:
        raise ValueError(f'{data_root}: train/ and val/ have different '
                         'class folders')
    train = split_files(data_root, 'train', classes)
    val = split_files(data_root, 'val', classes)
    pre, heldout = per_class_split(train, profile['train_per_class'],
                                   profile.get('heldout_per_class'), seed)
    probe = per_class_subset(pre, profile['probe_per_class'], seed + 1)
    val = per_class_subset(val, profile['val_per_class'], seed + 2)
    os.makedirs(work_dir, exist_ok=True)
    data = dict(classes=classes, data_root=osp.abspath(data_root))
    subsets = [('pretrain', pre), ('probe', probe), ('val', val)]
    if any(heldout):
        subsets.append(('heldout', heldout))
    for name, files in subsets:
        ann = osp.join(work_dir, f'{name}.txt')
        data[f'{name}_num'] = write_ann(ann, files)
        data[f'{name}_ann'] = ann
        data[f'{name}_files'] = files
    return data


# ----------------------------------------------------------------- teacher
def _sha(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


def _replay_views(pipeline) -> List[dict]:
    found = []
    _walk(pipeline, lambda t: found.append(t)
          if t.get('type') == 'ReplayCachedView' else None)
    return found


def set_cache_dir(cfg, cache_dir: str):
    """Point a cached-teacher config (teacher and replayed views) at one
    cache folder."""
    cfg.model['target_generator']['cache_dir'] = cache_dir
    for t in _replay_views(cfg.train_dataloader['dataset']['pipeline']):
        t['cache_dir'] = cache_dir


def view_cache_dir(cfg, work_dir: str, num_views: int, seed: int = 0) -> str:
    """The cache folder of a (teacher, data, view recipe): rows and seeds
    that agree on all three share it.

    The data part is the fingerprint that ``CachedViewHook`` checks (file
    list, sizes and modification times): a re-copied dataset gets a cache
    of its own instead of one that training would refuse.
    """
    ds = cfg.train_dataloader['dataset']
    fingerprint = dataset_fingerprint(DATASETS.build(dict(ds, pipeline=[])))
    views = [{k: v for k, v in t.items() if k != 'cache_dir'}
             for t in _replay_views(ds['pipeline'])]
    key = _sha([
        cfg.model['target_generator']['teacher'], ds['data_root'],
        ds['data_prefix'], fingerprint, views, num_views, seed
    ])
    return osp.join(work_dir, 'teacher_cache', key[:16])


def build_view_cache(cfg, work_dir: str, profile: dict, log=print) -> dict:
    """Build (or reuse) the teacher-target cache a teacher row replays.

    The teacher runs once over ``profile['num_views']`` pre-sampled views of
    every pre-training image (crop + flip at the student's size, the view
    recipe of the row's ``ReplayCachedView``), through the package's
    builder; training then replays the exact view the student sees and
    reads its target. ``cfg`` is pointed at the cache folder.

    Returns:
        dict: The cache manifest.
    """
    cache_dir = view_cache_dir(cfg, work_dir, profile['num_views'])
    set_cache_dir(cfg, cache_dir)
    manifest = read_manifest(cache_dir)
    if manifest is not None and manifest.get('complete'):
        log(f'teacher cache: reusing {cache_dir}')
        return manifest
    t0 = time.time()
    manifest = build_teacher_cache_from_config(
        cfg,
        device='cpu',
        num_views=profile['num_views'],
        seed=0,
        batch_size=profile['batch_size'],
        num_workers=profile['num_workers'],
        progress=True,
        logger=MMLogger.get_current_instance())
    if not manifest.get('complete'):
        raise RuntimeError(f'teacher cache {cache_dir} is incomplete')
    log(f'teacher cache: {manifest["dataset"]["num_samples"]} images x '
        f'{profile["num_views"]} views in {time.time() - t0:.1f} s '
        f'({cache_dir})')
    return manifest


@torch.no_grad()
def teacher_embeddings(teacher, files: List[list], root: str, size: int,
                       batch_size: int = 64) -> tuple:
    """A teacher's embeddings of whole images, resized to ``size``.

    Returns:
        tuple[Tensor, Tensor]: Embeddings (N, D) and labels (N,).
    """
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    paths = [(osp.join(root, f), c) for c, fs in enumerate(files) for f in fs]
    out = []
    for i in range(0, len(paths), batch_size):
        x = torch.stack(
            [load_image(p, size) for p, _ in paths[i:i + batch_size]])
        out.append(teacher.encode_image((x - mean) / std))
    return torch.cat(out), torch.tensor([c for _, c in paths])


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


# --------------------------------------------------------------- configs
def _walk(obj, fn):
    if isinstance(obj, dict):
        fn(obj)
        for v in obj.values():
            _walk(v, fn)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            _walk(v, fn)


def set_image_size(pipeline, size: int):
    """Point every crop/resize of a pipeline (nested views too) at size."""

    def fn(t):
        kind = t.get('type')
        if kind in ('RandomResizedCrop', 'ReplayCachedView', 'ResizeEdge'):
            t['scale'] = size
        elif kind == 'CenterCrop':
            t['crop_size'] = size

    _walk(pipeline, fn)


def _set_dataset(loader, data: dict, subset: str, split: str, profile: dict):
    # The shipped configs' datasets (an image folder, ImageNet) become the
    # subset's annotation file; only their pipelines are kept.
    pipeline = loader['dataset']['pipeline']
    set_image_size(pipeline, profile['img_size'])
    loader['dataset'] = dict(
        type='CustomDataset',
        data_root=data['data_root'],
        data_prefix=split,
        ann_file=data[f'{subset}_ann'],
        with_label=True,
        metainfo=dict(classes=list(data['classes'])),
        pipeline=pipeline)
    loader['num_workers'] = profile['num_workers']
    loader['persistent_workers'] = False
    loader['pin_memory'] = False


def _set_epochs(cfg, epochs: int):
    cfg.train_cfg['max_epochs'] = epochs
    if cfg.train_cfg.get('val_interval', 0) < 10**8:
        cfg.train_cfg['val_interval'] = epochs
    cfg.default_hooks['checkpoint']['interval'] = epochs
    cfg.default_hooks['checkpoint']['max_keep_ckpts'] = 1
    for s in cfg.param_scheduler:
        if s['type'] == 'CosineAnnealingLR':
            s.update(T_max=epochs, end=epochs, begin=0)
        elif s['type'] == 'MultiStepLR':
            s['milestones'] = [
                max(1, int(0.6 * epochs)),
                max(1, int(0.8 * epochs))
            ]


def row_epochs(row: str, profile: dict) -> int:
    """Pre-training epochs of a row: its fraction of the profile's."""
    return max(1,
               round(profile['epochs'] * ROWS[row].get('epochs_fraction', 1)))


def pretrain_config(row: str, data: dict, profile: dict, seed: int,
                    teacher: Optional[dict] = None):
    """The row's pre-training config, adapted to the profile.

    Whatever optimizer the shipped config uses, every row gets the same
    budget: SGD (momentum 0.9, weight decay 1e-4) at the profile's lr,
    a cosine schedule over the profile's epochs (the row's fraction of
    them, see :func:`row_epochs`), its batch and image size.
    Teacher rows get ``teacher['cfg']`` as the cached teacher's online
    teacher; their cache folder is set by :func:`build_view_cache`.
    """
    cfg = Config.fromfile(osp.join(CONFIG_DIR, ROWS[row]['config']))
    _set_dataset(cfg.train_dataloader, data, 'pretrain', 'train', profile)
    if cfg.get('val_dataloader'):
        _set_dataset(cfg.val_dataloader, data, 'val', 'val', profile)
        cfg.test_dataloader = cfg.val_dataloader
    cfg.train_dataloader['batch_size'] = profile['batch_size']
    # A row's paramwise settings (e.g. no decay on a learnt temperature)
    # belong to the row, not to the budget, so they survive.
    paramwise = cfg.get('optim_wrapper', {}).get('paramwise_cfg')
    cfg.optim_wrapper = dict(
        type='OptimWrapper',
        optimizer=dict(
            type='SGD', lr=profile['lr'], momentum=0.9, weight_decay=1e-4))
    if paramwise:
        cfg.optim_wrapper['paramwise_cfg'] = paramwise
    cfg.param_scheduler = [
        dict(type='CosineAnnealingLR', by_epoch=True, T_max=1, begin=0,
             end=1)
    ]
    cfg.auto_scale_lr = dict(enable=False, base_batch_size=256)
    _set_epochs(cfg, row_epochs(row, profile))
    cfg.randomness = dict(seed=seed, deterministic=False)
    cfg.default_hooks['logger']['interval'] = 10
    if ROWS[row].get('teacher'):
        cfg.model['target_generator']['teacher'] = teacher['cfg']
        cfg.model['neck']['out_channels'] = teacher['embed_dim']
        for hook in cfg.custom_hooks:
            if hook['type'] == 'PromptBankHook':
                hook['progress'] = False
        if teacher.get('cache_dir'):
            set_cache_dir(cfg, teacher['cache_dir'])
    for part in ('head', 'data_preprocessor'):
        if 'num_classes' in cfg.model.get(part, {}):
            cfg.model[part]['num_classes'] = len(data['classes'])
    return cfg


def probe_config(data: dict, profile: dict, seed: int,
                 checkpoint: Optional[str]):
    """The stock linear probe, on the row's backbone (None: random init)."""
    cfg = Config.fromfile(osp.join(CONFIG_DIR, 'linear_resnet18.py'))
    _set_dataset(cfg.train_dataloader, data, 'probe', 'train', profile)
    _set_dataset(cfg.val_dataloader, data, 'val', 'val', profile)
    cfg.test_dataloader = cfg.val_dataloader
    cfg.train_dataloader['batch_size'] = profile['batch_size']
    n = len(data['classes'])
    cfg.model['head']['num_classes'] = n
    cfg.model['data_preprocessor']['num_classes'] = n
    _set_epochs(cfg, profile['probe_epochs'])
    cfg.randomness = dict(seed=seed, deterministic=False)
    cfg.model['backbone']['init_cfg'] = None if checkpoint is None else \
        dict(type='Pretrained', checkpoint=checkpoint, prefix='backbone.')
    return cfg


# ------------------------------------------------------------------ runs
def _read_run(work_dir: str) -> dict:
    ckpts = sorted(glob.glob(osp.join(work_dir, 'epoch_*.pth')),
                   key=osp.getmtime)
    scalars = []
    runs = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                     'scalars.json')), key=osp.getmtime)
    if runs:
        with open(runs[-1]) as f:
            scalars = [json.loads(line) for line in f if line.strip()]
    return dict(checkpoint=ckpts[-1] if ckpts else None, scalars=scalars)


def reuse_run(work_dir: str, log=print) -> Optional[dict]:
    """A finished run in ``work_dir`` (checkpoint present), else None.

    Its wall time comes from ``result.json``, else from the config dump's
    and the checkpoint's modification times.
    """
    res = _read_run(work_dir)
    if res['checkpoint'] is None:
        return None
    path = osp.join(work_dir, 'result.json')
    if osp.isfile(path):
        with open(path) as f:
            res['seconds'] = json.load(f)['seconds']
    else:
        res['seconds'] = round(
            osp.getmtime(res['checkpoint']) -
            osp.getmtime(osp.join(work_dir, 'config.py')), 1)
    log(f'reusing the finished run in {work_dir}')
    return res


def run_train(cfg, work_dir: str, log=print, timeout=None) -> dict:
    """Dump ``cfg`` and train it with the stock ``tools/train.py``.

    Returns:
        dict: ``seconds``, ``checkpoint`` and ``scalars`` (the run's
        ``vis_data/scalars.json`` records).
    """
    os.makedirs(work_dir, exist_ok=True)
    path = osp.join(work_dir, 'config.py')
    cfg.dump(path)
    env = dict(os.environ)
    env['PYTHONPATH'] = REPO + os.pathsep + env.get('PYTHONPATH', '')
    env.setdefault('HF_HUB_OFFLINE', '1')
    cmd = [
        sys.executable,
        osp.join(REPO, 'tools', 'train.py'), path, '--work-dir', work_dir
    ]
    log('$ ' + ' '.join(cmd))
    t0 = time.time()
    with open(osp.join(work_dir, 'train.log'), 'w') as f:
        proc = subprocess.run(
            cmd, cwd=REPO, env=env, stdout=f, stderr=subprocess.STDOUT,
            timeout=timeout)
    seconds = time.time() - t0
    if proc.returncode != 0:
        with open(osp.join(work_dir, 'train.log')) as f:
            tail = f.read()[-3000:]
        raise RuntimeError(f'train.py failed ({work_dir}):\n{tail}')
    with open(osp.join(work_dir, 'result.json'), 'w') as f:
        json.dump(dict(seconds=round(seconds, 1)), f)
    return dict(seconds=round(seconds, 1), **_read_run(work_dir))


def last_metric(scalars: List[dict], key: str) -> Optional[float]:
    vals = [s[key] for s in scalars if key in s]
    return float(vals[-1]) if vals else None


def loss_curve(scalars: List[dict]) -> List[list]:
    """(iteration, loss) pairs of a training run."""
    return [[s['step'], s['loss']] for s in scalars
            if 'loss' in s and 'step' in s]


def run_row(row: str,
            data: dict,
            profile: dict,
            seed: int,
            work_dir: str,
            teacher: Optional[dict] = None,
            log=print,
            reuse_pretrain: bool = False,
            curve: bool = False) -> dict:
    """Pre-train (unless random init) and probe one row.

    With ``reuse_pretrain`` a finished pre-training run in the row's work
    dir is reused (e.g. to re-run only the probes); the caller vouches that
    it was made with the same settings. With ``curve`` and a profile's
    ``curve_every``, a checkpoint every ``curve_every`` epochs is probed on
    the held-out train split (never val): ``probe_curve``, the
    (epoch, accuracy) pairs that show whether the schedule is long enough.
    """
    out = dict(row=row, label=ROWS[row]['label'], seed=seed,
               passes=ROWS[row]['passes'])
    ckpt = None
    pre_seconds = 0.
    if ROWS[row]['config'] is not None:
        cfg = pretrain_config(row, data, profile, seed, teacher)
        every = profile.get('curve_every') if curve else None
        if every and data.get('heldout_files'):
            cfg.default_hooks['checkpoint'].update(
                interval=every, max_keep_ckpts=-1)
        else:
            every = None
        pre_dir = osp.join(work_dir, f'{row}_s{seed}', 'pretrain')
        res = reuse_run(pre_dir, log) if reuse_pretrain else None
        if res is None:
            res = run_train(cfg, pre_dir, log)
        else:
            out['pretrain_reused'] = True
        ckpt, pre_seconds = res['checkpoint'], res['seconds']
        if every:
            out['probe_curve'] = probe_curve(pre_dir, ckpt, data, profile,
                                             seed)
        out['curve'] = loss_curve(res['scalars'])
        acc = last_metric(res['scalars'], 'accuracy/top1')
        if acc is not None:
            # Supervised: its own head; teacher rows: zero-shot via prompts.
            key = 'supervised_head' if row == 'supervised' else 'zero_shot'
            out[key] = acc
    out['pretrain_seconds'] = round(pre_seconds, 1)
    if profile.get('stock_probe', True):
        res = run_train(
            probe_config(data, profile, seed, ckpt),
            osp.join(work_dir, f'{row}_s{seed}', 'probe'), log)
        out['linear_probe'] = last_metric(res['scalars'], 'accuracy/top1')
        out['probe_seconds'] = res['seconds']
    t0 = time.time()
    probe = logreg_probe(ckpt, data, profile, seed)
    out['logreg_probe'] = probe['val']
    if 'heldout' in probe:
        out['logreg_heldout'] = probe['heldout']
    out['logreg_seconds'] = round(time.time() - t0, 1)
    if out.get('probe_curve') is not None and 'heldout' in probe:
        out['probe_curve'].append(
            [row_epochs(row, profile), probe['heldout']])
    log(f'row {row} seed {seed}: ' + json.dumps(
        {k: v for k, v in out.items() if k != 'curve'}))
    return out


def probe_curve(pre_dir: str, final: str, data: dict, profile: dict,
                seed: int) -> List[list]:
    """Held-out probe accuracy of a run's intermediate checkpoints, which
    are removed once probed (the final one is probed by the caller).

    Each result goes to ``probe_curve.json`` in ``pre_dir`` (atomically)
    before its checkpoint is removed, so a reused or interrupted run keeps
    the points already probed.

    Returns:
        list[list]: ``[epoch, held-out top-1 (%)]`` pairs, epoch order.
    """
    record = osp.join(pre_dir, 'probe_curve.json')
    done = {}
    if osp.exists(record):
        with open(record) as f:
            done = {int(e): acc for e, acc in json.load(f)}
    for path in glob.glob(osp.join(pre_dir, 'epoch_*.pth')):
        if osp.samefile(path, final):
            continue
        epoch = int(osp.basename(path)[len('epoch_'):-len('.pth')])
        if epoch not in done:
            acc = logreg_probe(path, data, profile, seed,
                               splits=('heldout', ))
            done[epoch] = acc['heldout']
            text = json.dumps(sorted(done.items())).encode()
            atomic_write(record, lambda f: f.write(text))
        os.remove(path)
    return [list(p) for p in sorted(done.items())]


@torch.no_grad()
def backbone_features(checkpoint: Optional[str], files: List[list],
                      root: str, img_size: int, seed: int = 0,
                      batch_size: int = 128) -> tuple:
    """Pooled ResNet-18 features of a fixed (whole-image) view.

    Returns:
        tuple[Tensor, Tensor]: Features (N, 512) and labels (N,).
    """
    torch.manual_seed(seed)
    net = ResNet(depth=18, out_indices=(3, ))
    if checkpoint is not None:
        state = torch.load(checkpoint, map_location='cpu',
                           weights_only=False)['state_dict']
        state = {
            k[len('backbone.'):]: v
            for k, v in state.items() if k.startswith('backbone.')
        }
        net.load_state_dict(state, strict=True)
    else:
        net.init_weights()
    net.eval()
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    paths = [(osp.join(root, f), c) for c, fs in enumerate(files) for f in fs]
    feats = []
    for i in range(0, len(paths), batch_size):
        x = torch.stack(
            [load_image(p, img_size) for p, _ in paths[i:i + batch_size]])
        feats.append(net((x - mean) / std)[-1].mean((2, 3)))
    return torch.cat(feats), torch.tensor([c for _, c in paths])


def fit_logreg(xtr: torch.Tensor, ytr: torch.Tensor, xva: torch.Tensor,
               yva: torch.Tensor) -> float:
    """Converged linear probe: L-BFGS logistic regression (scikit-learn) on
    standardised frozen features, train -> val.

    Unlike a short SGD schedule it has no learning rate to get wrong, so it
    measures the features rather than the optimiser.

    Returns:
        float: Val top-1 (%).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    clf = make_pipeline(StandardScaler(),
                        LogisticRegression(max_iter=2000, C=1.0))
    clf.fit(xtr.numpy(), ytr.numpy())
    return 100 * float(clf.score(xva.numpy(), yva.numpy()))


def logreg_probe(checkpoint: Optional[str], data: dict, profile: dict,
                 seed: int = 0,
                 splits=('val', 'heldout')) -> Dict[str, float]:
    """:func:`fit_logreg` on a backbone's pooled features of the whole
    image, probe subset -> val (the teacher reference's protocol), and
    probe subset -> the held-out part of train where the data has one.

    Returns:
        dict: ``val`` top-1 (%) and, with a held-out part, ``heldout``.
    """
    size = profile['img_size']
    root = data['data_root']
    xtr, ytr = backbone_features(checkpoint, data['probe_files'],
                                 osp.join(root, 'train'), size, seed)
    out = {}
    for name, split in (('val', 'val'), ('heldout', 'train')):
        if name not in splits or not data.get(f'{name}_files'):
            continue
        x, y = backbone_features(checkpoint, data[f'{name}_files'],
                                 osp.join(root, split), size, seed)
        out[name] = fit_logreg(xtr, ytr, x, y)
    return out


METRICS = ('linear_probe', 'logreg_probe', 'logreg_heldout', 'zero_shot',
           'supervised_head', 'pretrain_seconds', 'probe_seconds')


def mean_std(vals: List[float]) -> tuple:
    """Mean, sample standard deviation (n - 1) and the standard error of
    the mean (std / sqrt(n)); std and error are None for one value."""
    n = len(vals)
    mean = sum(vals) / n
    if n < 2:
        return mean, None, None
    std = math.sqrt(sum((v - mean)**2 for v in vals) / (n - 1))
    return mean, std, std / math.sqrt(n)


def summarize(results: List[dict]) -> Dict[str, dict]:
    """Mean, std and standard error over seeds, per row and metric."""
    rows: Dict[str, dict] = {}
    for r in results:
        rows.setdefault(r['row'], dict(label=r['label'], runs=[]))
        rows[r['row']]['runs'].append(r)
    for name, row in rows.items():
        row['passes'] = ROWS[name]['passes'] if name in ROWS else None
        # The CPU(s) its runs ran on: wall times compare only within one.
        row['hardware'] = sorted(
            {r['hardware']
             for r in row['runs'] if r.get('hardware')})
        for key in METRICS:
            vals = [r[key] for r in row['runs'] if r.get(key) is not None]
            if vals:
                row[key], row[key + '_std'], row[key + '_se'] = \
                    mean_std(vals)
    return rows


def gap_closure(rows: Dict[str, dict], row: str,
                key: str = 'linear_probe') -> Optional[float]:
    """(row - SimCLR) / (supervised - SimCLR) on a probe's accuracy."""
    try:
        sim = rows['simclr'][key]
        sup = rows['supervised'][key]
        val = rows[row][key]
    except KeyError:
        return None
    if sup == sim:
        return None
    return (val - sim) / (sup - sim)
