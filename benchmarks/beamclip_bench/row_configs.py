"""Row configs: a row's shipped-config-based pre-training config and the
stock linear probe's, adapted to the profile (image size, epochs, batch,
optimizer and schedule, data subsets, teacher, teacher-target cache)."""
import os.path as osp
from typing import List, Optional

from mmengine.config import Config

from .common import CONFIG_DIR, check_checkout
from .rows import ROWS, row_epochs


def walk(obj, fn):
    """Call ``fn`` on every dict nested in ``obj`` (dicts and lists)."""
    if isinstance(obj, dict):
        fn(obj)
        for v in obj.values():
            walk(v, fn)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            walk(v, fn)


def replay_views(pipeline) -> List[dict]:
    """The ``ReplayCachedView`` transforms of a pipeline (nested too)."""
    found = []
    walk(pipeline, lambda t: found.append(t)
         if t.get('type') == 'ReplayCachedView' else None)
    return found


def set_cache_dir(cfg, cache_dir: str):
    """Point a cached-teacher config at one teacher-target cache folder.

    The model's ``target_generator.cache_dir`` names it; a replayed view
    that states its own ``cache_dir`` (configs written before the view
    derived it from the model) is pointed there too.
    """
    cfg.model['target_generator']['cache_dir'] = cache_dir
    for t in replay_views(cfg.train_dataloader['dataset']['pipeline']):
        if 'cache_dir' in t:
            t['cache_dir'] = cache_dir


def set_image_size(pipeline, size: int):
    """Point every crop/resize of a pipeline (nested views too) at size."""

    def fn(t):
        kind = t.get('type')
        if kind in ('RandomResizedCrop', 'ReplayCachedView', 'ResizeEdge'):
            t['scale'] = size
        elif kind == 'CenterCrop':
            t['crop_size'] = size

    walk(pipeline, fn)


def load_config(name: str):
    """A config of ``benchmarks/configs`` by file name."""
    check_checkout()
    return Config.fromfile(osp.join(CONFIG_DIR, name))


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
    cfg = load_config(ROWS[row]['config'])
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
    cfg = load_config('linear_resnet18.py')
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
