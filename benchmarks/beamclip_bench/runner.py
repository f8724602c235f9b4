"""Equal-budget quality benchmark: data subsets, teacher cache, row runs.

Every row is trained by mmpretrain's **stock** ``tools/train.py`` in a
subprocess, on a config from ``benchmarks/configs`` that this module adapts
to the profile (image size, epochs, batch, data subsets, teacher) and dumps
into the row's work dir. Every backbone is then linear-probed with the same
stock recipe (``benchmarks/configs/linear_resnet18.py``).
"""
import glob
import json
import os
import os.path as osp
import random
import subprocess
import sys
import time
from typing import Dict, List, Optional

import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG_DIR = osp.join(REPO, 'benchmarks', 'configs')
IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp')

# Profiles. `quick` fits a 2-core CPU in about an hour (see
# docs/benchmark.md for the budget); `full` is for a GPU; `smoke` is the CI
# plumbing test (a handful of images, a few iterations).
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
        probe_epochs=10,
        val_per_class=200,
        seeds=[0],
        proxy_max_images=3000,
        proxy_steps=1500,
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
        probe_epochs=100,
        val_per_class=None,
        seeds=[0, 1],
        proxy_max_images=9469,
        proxy_steps=3000,
        proxy_max_classes=None,
        num_workers=8),
    # tools/demo.py: a few minutes of distillation on a small real dataset.
    'demo':
    dict(
        img_size=32,
        teacher_size=96,
        epochs=5,
        batch_size=64,
        lr=0.05,
        train_per_class=None,
        probe_per_class=100,
        probe_epochs=10,
        val_per_class=200,
        seeds=[0],
        proxy_max_images=2000,
        proxy_steps=1500,
        proxy_max_classes=None,
        num_workers=2),
    'smoke':
    dict(
        img_size=32,
        teacher_size=32,
        epochs=1,
        batch_size=4,
        lr=0.05,
        train_per_class=4,
        probe_per_class=4,
        probe_epochs=1,
        val_per_class=2,
        seeds=[0],
        proxy_max_images=8,
        proxy_steps=5,
        proxy_max_classes=50,
        num_workers=0),
}

# name -> label, config (None: no pre-training), what it needs.
ROWS = {
    'random': dict(label='random init', config=None),
    'supervised': dict(
        label='supervised (labels)', config='supervised_resnet18.py'),
    'simclr': dict(label='SimCLR (mmpretrain)', config='simclr_resnet18.py'),
    'featreg': dict(
        label='feature regression (cos to teacher)',
        config='featreg_resnet18.py',
        teacher=True),
    'csm': dict(
        label='BeamCLIP CSM (plain prompts)',
        config='csm_resnet18.py',
        teacher=True),
    # Hooks for the CPA and SSL issues: the rows run as soon as their config
    # exists (inherit ./_base_/quality_distill.py); until then "pending".
    'csm_cpa': dict(
        label='BeamCLIP CSM + CPA',
        config='csm_cpa_resnet18.py',
        teacher=True),
    'csm_ssl': dict(
        label='BeamCLIP CSM + SSL',
        config='csm_ssl_resnet18.py',
        teacher=True),
}
DEFAULT_ROWS = list(ROWS)


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
    rng = random.Random(seed)
    out = []
    for fs in files:
        fs = list(fs)
        rng.shuffle(fs)
        out.append(sorted(fs[:n] if n else fs))
    return out


def write_ann(path: str, files: List[list]) -> int:
    """An mmpretrain ``CustomDataset`` annotation file: ``path label``."""
    lines = [f'{f} {label}' for label, fs in enumerate(files) for f in fs]
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return len(lines)


def prepare_data(data_root: str, work_dir: str, profile: dict,
                 seed: int = 0) -> dict:
    """Write the annotation files of the profile's subsets.

    Returns:
        dict: ``classes``, ann file paths and file lists per subset.
    """
    classes = class_folders(data_root, 'train')
    if class_folders(data_root, 'val') != classes:
        raise ValueError(f'{data_root}: train/ and val/ have different '
                         'class folders')
    train = split_files(data_root, 'train', classes)
    val = split_files(data_root, 'val', classes)
    pre = per_class_subset(train, profile['train_per_class'], seed)
    probe = per_class_subset(pre, profile['probe_per_class'], seed + 1)
    val = per_class_subset(val, profile['val_per_class'], seed + 2)
    os.makedirs(work_dir, exist_ok=True)
    data = dict(classes=classes, data_root=osp.abspath(data_root))
    for name, files in (('pretrain', pre), ('probe', probe), ('val', val)):
        ann = osp.join(work_dir, f'{name}.txt')
        data[f'{name}_num'] = write_ann(ann, files)
        data[f'{name}_ann'] = ann
        data[f'{name}_files'] = files
    return data


# ----------------------------------------------------------------- teacher
def teacher_cfg(spec: str, image_size: int) -> dict:
    """``OpenCLIPTeacher`` config from ``local-dir:DIR`` or ``MODEL:TAG``."""
    if spec.startswith('local-dir:'):
        # For a local-dir model the name is only a label (but part of the
        # teacher id, which keys caches and prompt banks).
        folder = spec[len('local-dir:'):]
        name = 'clip-proxy-effnetlite0-minilm' if osp.isfile(
            osp.join(folder, 'proxy_meta.json')) else osp.basename(
                osp.normpath(folder))
        return dict(
            type='OpenCLIPTeacher',
            model_name=name,
            pretrained=spec,
            image_size=image_size)
    model, _, tag = spec.partition(':')
    if not tag:
        raise ValueError(f'teacher {spec!r}: use local-dir:DIR or MODEL:TAG '
                         '(e.g. ViT-B-32:openai)')
    if model.startswith('ViT') and tag == 'openai' and \
            not model.endswith('quickgelu'):
        model += '-quickgelu'  # OpenAI weights were trained with QuickGELU
    return dict(type='OpenCLIPTeacher', model_name=model, pretrained=tag)


def _load_for_teacher(path: str, size: int) -> torch.Tensor:
    from .proxy import load_image
    return load_image(path, size)


@torch.no_grad()
def build_teacher_cache(tcfg: dict, paths: List[str], out: str,
                        image_size: int, batch_size: int = 64,
                        log=print) -> dict:
    """Embed each image once (whole image, resized to the teacher's size).

    Returns:
        dict: What :class:`FullViewCachedTeacher` reads: ``paths``, ``embeds``,
        ``teacher_id``; reused when ``out`` already holds the same.
    """
    from mmpretrain.registry import MODELS
    from tqdm import tqdm

    import mmbeamclip  # noqa: F401  (registers the teacher)
    from mmbeamclip.models.teachers.open_clip_teacher import (IMAGENET_MEAN,
                                                              IMAGENET_STD)
    teacher = MODELS.build(tcfg)
    if osp.isfile(out):
        data = torch.load(out, map_location='cpu', weights_only=False)
        if data.get('teacher_id') == teacher.teacher_id and \
                data.get('paths') == list(paths):
            log(f'teacher cache: reusing {out}')
            return data
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    embeds = []
    t0 = time.time()
    for i in tqdm(range(0, len(paths), batch_size), desc='teacher cache',
                  mininterval=10):
        x = torch.stack([
            _load_for_teacher(p, image_size) for p in paths[i:i + batch_size]
        ])
        embeds.append(teacher.encode_image((x - mean) / std))
    data = dict(
        paths=list(paths),
        embeds=torch.cat(embeds),
        teacher_id=teacher.teacher_id,
        image_size=image_size,
        seconds=round(time.time() - t0, 1))
    torch.save(data, out)
    log(f'teacher cache: {len(paths)} images in {data["seconds"]} s')
    return data


def teacher_reference(cache: dict, tcfg: dict, data: dict) -> dict:
    """The teacher's own zero-shot and linear-probe accuracy on val.

    Zero-shot: argmax cosine to the same plain-prompt bank the CSM row uses
    ('a photo of a {class}.'). Linear probe: scikit-learn logistic
    regression on the cached, L2-normalised embeddings of the probe subset
    (the teacher is not a ResNet, so the students' mmpretrain recipe does
    not apply).
    """
    from mmpretrain.registry import MODELS
    from sklearn.linear_model import LogisticRegression

    from mmbeamclip.prompts import format_prompts, resolve_classnames
    index = {p: i for i, p in enumerate(cache['paths'])}

    def xy(files, split):
        rows, ys = [], []
        for label, fs in enumerate(files):
            for f in fs:
                rows.append(index[osp.join(data['data_root'], split, f)])
                ys.append(label)
        return cache['embeds'][rows], torch.tensor(ys)

    xtr, ytr = xy(data['probe_files'], 'train')
    xva, yva = xy(data['val_files'], 'val')
    teacher = MODELS.build(tcfg)
    names = resolve_classnames(data['classes'])
    bank = teacher.encode_text(
        [p[0] for p in format_prompts(names, ['a photo of a {}.'])])
    zs = float(((xva @ bank.t()).argmax(-1) == yva).float().mean())
    clf = LogisticRegression(max_iter=2000, C=1.0)
    clf.fit(xtr.numpy(), ytr.numpy())
    lp = float(clf.score(xva.numpy(), yva.numpy()))
    return dict(zero_shot=100 * zs, linear_probe=100 * lp)


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
        if kind == 'RandomResizedCrop':
            t['scale'] = size
        elif kind == 'ResizeEdge':
            t['scale'] = size
        elif kind == 'CenterCrop':
            t['crop_size'] = size

    _walk(pipeline, fn)


def _set_dataset(loader, data: dict, subset: str, split: str, profile: dict):
    ds = loader['dataset']
    ds['data_root'] = data['data_root']
    ds['data_prefix'] = split
    ds['ann_file'] = data[f'{subset}_ann']
    ds['with_label'] = True
    ds['metainfo'] = dict(classes=list(data['classes']))
    set_image_size(ds['pipeline'], profile['img_size'])
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


def pretrain_config(row: str, data: dict, profile: dict, seed: int,
                    teacher: Optional[dict] = None):
    """The row's pre-training config, adapted to the profile."""
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(CONFIG_DIR, ROWS[row]['config']))
    _set_dataset(cfg.train_dataloader, data, 'pretrain', 'train', profile)
    if cfg.get('val_dataloader'):
        _set_dataset(cfg.val_dataloader, data, 'val', 'val', profile)
    cfg.train_dataloader['batch_size'] = profile['batch_size']
    # One optimizer and schedule for every row; lr scales with the batch.
    cfg.optim_wrapper['optimizer']['lr'] = profile['lr']
    _set_epochs(cfg, profile['epochs'])
    cfg.randomness = dict(seed=seed, deterministic=False)
    cfg.default_hooks['logger']['interval'] = 10
    if ROWS[row].get('teacher'):
        tg = cfg.model['target_generator']
        tg['teacher'] = teacher['cfg']
        tg['cache_file'] = teacher['cache_file']
        cfg.model['neck']['out_channels'] = teacher['embed_dim']
    return cfg


def probe_config(data: dict, profile: dict, seed: int,
                 checkpoint: Optional[str]):
    """The stock linear probe, on the row's backbone (None: random init)."""
    from mmengine.config import Config
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


def config_available(row: str) -> bool:
    cfg = ROWS[row]['config']
    return cfg is None or osp.isfile(osp.join(CONFIG_DIR, cfg))


def run_row(row: str,
            data: dict,
            profile: dict,
            seed: int,
            work_dir: str,
            teacher: Optional[dict] = None,
            log=print,
            reuse_pretrain: bool = False) -> dict:
    """Pre-train (unless random init) and linear-probe one row.

    With ``reuse_pretrain`` a finished pre-training run in the row's work
    dir is reused (e.g. to re-run only the probes); the caller vouches that
    it was made with the same settings.
    """
    out = dict(row=row, label=ROWS[row]['label'], seed=seed)
    ckpt = None
    pre_seconds = 0.
    if ROWS[row]['config'] is not None:
        cfg = pretrain_config(row, data, profile, seed, teacher)
        pre_dir = osp.join(work_dir, f'{row}_s{seed}', 'pretrain')
        res = reuse_run(pre_dir, log) if reuse_pretrain else None
        if res is None:
            res = run_train(cfg, pre_dir, log)
        else:
            out['pretrain_reused'] = True
        ckpt, pre_seconds = res['checkpoint'], res['seconds']
        out['curve'] = loss_curve(res['scalars'])
        acc = last_metric(res['scalars'], 'accuracy/top1')
        if acc is not None:
            # Supervised: its own head; teacher rows: zero-shot via prompts.
            key = 'supervised_head' if row == 'supervised' else 'zero_shot'
            out[key] = acc
    res = run_train(
        probe_config(data, profile, seed, ckpt),
        osp.join(work_dir, f'{row}_s{seed}', 'probe'), log)
    out['linear_probe'] = last_metric(res['scalars'], 'accuracy/top1')
    t0 = time.time()
    out['logreg_probe'] = logreg_probe(ckpt, data, profile, seed)
    out['logreg_seconds'] = round(time.time() - t0, 1)
    out['pretrain_seconds'] = round(pre_seconds, 1)
    out['probe_seconds'] = res['seconds']
    log(f'row {row} seed {seed}: ' + json.dumps(
        {k: v for k, v in out.items() if k != 'curve'}))
    return out


@torch.no_grad()
def backbone_features(checkpoint: Optional[str], files: List[list],
                      root: str, img_size: int, seed: int = 0,
                      batch_size: int = 128) -> tuple:
    """Pooled ResNet-18 features of a fixed (whole-image) view.

    Returns:
        tuple[Tensor, Tensor]: Features (N, 512) and labels (N,).
    """
    from mmpretrain.models import ResNet

    from mmbeamclip.models.teachers.open_clip_teacher import (IMAGENET_MEAN,
                                                              IMAGENET_STD)
    from .proxy import load_image
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


def logreg_probe(checkpoint: Optional[str], data: dict, profile: dict,
                 seed: int = 0) -> float:
    """Converged linear probe: L-BFGS logistic regression (scikit-learn) on
    standardised frozen features of the whole image, probe subset -> val.

    The same protocol as the teacher's reference probe. Unlike a short SGD
    schedule it has no learning rate to get wrong, so it measures the
    features rather than the optimiser.

    Returns:
        float: Val top-1 (%).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    size = profile['img_size']
    xtr, ytr = backbone_features(checkpoint, data['probe_files'],
                                 osp.join(data['data_root'], 'train'), size,
                                 seed)
    xva, yva = backbone_features(checkpoint, data['val_files'],
                                 osp.join(data['data_root'], 'val'), size,
                                 seed)
    clf = make_pipeline(StandardScaler(),
                        LogisticRegression(max_iter=2000, C=1.0))
    clf.fit(xtr.numpy(), ytr.numpy())
    return 100 * float(clf.score(xva.numpy(), yva.numpy()))


def summarize(results: List[dict]) -> Dict[str, dict]:
    """Mean and spread (half range) over seeds, per row and metric."""
    rows: Dict[str, dict] = {}
    for r in results:
        rows.setdefault(r['row'], dict(label=r['label'], runs=[]))
        rows[r['row']]['runs'].append(r)
    for row in rows.values():
        for key in ('linear_probe', 'logreg_probe', 'zero_shot',
                    'supervised_head', 'pretrain_seconds', 'probe_seconds'):
            vals = [r[key] for r in row['runs'] if r.get(key) is not None]
            if vals:
                row[key] = sum(vals) / len(vals)
                row[key + '_spread'] = (max(vals) - min(vals)) / 2
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
