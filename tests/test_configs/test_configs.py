"""Every shipped config parses and builds (teacher swapped for the tiny one)."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import HOOKS, MODELS, TRANSFORMS

import mmbeamclip  # noqa: F401

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(
    p for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'),
                         recursive=True) if '_base_' not in p)


def build_pipeline(pipeline):
    for t in pipeline:
        TRANSFORMS.build(t)


@pytest.mark.parametrize('path', CONFIGS,
                         ids=[osp.relpath(p, ROOT) for p in CONFIGS])
def test_config_builds(path, tiny_teacher_cfg):
    cfg = Config.fromfile(path)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    model = cfg.model
    if model.type == 'BeamCLIP':
        assert cfg.custom_imports['imports'] == ['mmbeamclip']
        assert 'PromptBankHook' in [h['type'] for h in cfg.custom_hooks]
        assert model.get('init_cfg') is None
        assert not cfg.get('find_unused_parameters', False)
        assert cfg.randomness['seed'] is not None
        model.target_generator = dict(tiny_teacher_cfg)
        model.neck.out_channels = 32
    elif model.type in ('SimCLR', 'MoCo', 'BYOL'):
        # Stage 1 of the two-stage SSL recipe: a stock mmpretrain run whose
        # backbone.* keys a BeamCLIP student loads (docs/ssl.md).
        assert model.backbone.depth == 18
        assert cfg.randomness['seed'] is not None
        assert cfg.train_dataloader.collate_fn == dict(type='default_collate')
    else:  # linear probes: stock student, seeded, loads backbone.* keys
        assert model.backbone.init_cfg.prefix == 'backbone.'
        assert model.backbone.frozen_stages == 4
        assert cfg.randomness['seed'] is not None
    built = MODELS.build(model)
    assert built.backbone is not None
    for hook in cfg.get('custom_hooks', []):
        HOOKS.build(hook)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(loader):
            build_pipeline(cfg[loader].dataset.pipeline)


def test_all_configs_found():
    names = [osp.basename(p) for p in CONFIGS]
    assert 'beamclip_resnet18_vit-b16-openai_8xb256-coslr-200e_in1k.py' in names
    assert 'resnet18_8xb512-linear-coslr-90e_in1k.py' in names
