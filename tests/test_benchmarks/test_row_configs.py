"""Row configs: every row builds on its shipped config with the common
budget; option rows change only their option."""
import os.path as osp

import pytest
import torch
from beamclip_bench import row_configs
from beamclip_bench import rows as row_table
from beamclip_bench.common import CONFIG_DIR
from bench_fixtures import SMOKE, data, teacher  # noqa: F401
from mmengine.config import Config
from mmpretrain.registry import MODELS

import mmbeamclip  # noqa: F401


@pytest.mark.parametrize(
    'row', [r for r in row_table.ROWS if row_table.ROWS[r]['config']])
def test_row_configs_parse_and_build(row, data, teacher):
    cfg = row_configs.pretrain_config(row, data, SMOKE, 0, teacher)
    assert cfg.train_cfg['max_epochs'] == 1
    assert cfg.train_dataloader['batch_size'] == 4
    # One budget for every row, whatever the shipped config's optimizer.
    assert cfg.optim_wrapper['optimizer']['type'] == 'SGD'
    assert cfg.optim_wrapper['optimizer']['lr'] == SMOKE['lr']
    ds = cfg.train_dataloader['dataset']
    assert ds['ann_file'] == data['pretrain_ann']
    model = MODELS.build(cfg.model)
    x = torch.randn(2, 3, 32, 32)
    feats = model.extract_feat(x)
    assert feats[-1].shape[:2] == (2, 512)


def test_option_rows_change_only_their_option(data, teacher):
    """Each option row is the csm_in1k row with one loss option on; the
    learnt temperature keeps its no-decay setting through the runner's
    common optimizer."""
    from mmengine.optim import build_optim_wrapper
    base = MODELS.build(
        row_configs.pretrain_config('csm_in1k', data, SMOKE, 0, teacher).model)
    assert base.head.embed_weight == 0
    assert base.head.loss_module.tau_s > base.head.loss_module.tau_t
    model = MODELS.build(row_configs.pretrain_config(
        'csm_in1k_taueq', data, SMOKE, 0, teacher).model)
    assert model.head.loss_module.tau_s == model.head.loss_module.tau_t
    model = MODELS.build(row_configs.pretrain_config(
        'csm_in1k_embed', data, SMOKE, 0, teacher).model)
    assert model.head.embed_weight == 1.0
    cfg = row_configs.pretrain_config('csm_in1k_taulearn', data, SMOKE, 0,
                                      teacher)
    model = MODELS.build(cfg.model)
    assert model.head.loss_module.learn_tau_s
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    tau = model.head.loss_module.log_tau_s
    groups = [g for g in wrapper.optimizer.param_groups
              if any(p is tau for p in g['params'])]
    assert len(groups) == 1 and groups[0]['weight_decay'] == 0
    assert wrapper.optimizer.param_groups[0]['lr'] == SMOKE['lr']
    decayed = [g for g in wrapper.optimizer.param_groups
               if g['weight_decay'] > 0]
    assert decayed, 'the common budget keeps weight decay elsewhere'


def test_simclr_half_matches_the_one_pass_rows_cost(data, teacher):
    """SimCLR at half the epochs makes as many backbone passes per image as
    a one-pass row over the whole schedule; its cosine schedule ends with
    its own last epoch."""
    profile = dict(SMOKE, epochs=4)
    cfgs = {
        r: row_configs.pretrain_config(r, data, profile, 0, teacher)
        for r in ('simclr', 'simclr_half', 'csm')
    }
    epochs = {r: c.train_cfg['max_epochs'] for r, c in cfgs.items()}
    assert epochs == dict(simclr=4, simclr_half=2, csm=4)
    assert cfgs['simclr_half'].param_scheduler[0]['T_max'] == 2
    assert cfgs['simclr_half'].model == cfgs['simclr'].model
    views = dict(simclr=2, simclr_half=2, csm=1)
    total = {r: views[r] * row_table.row_epochs(r, profile) for r in cfgs}
    assert total['simclr_half'] == total['csm'] == total['simclr'] / 2
    # The table's column: passes per image and epoch of the schedule.
    for r in cfgs:
        assert row_table.ROWS[r]['passes'] * profile['epochs'] == total[r]
    assert row_table.row_epochs('simclr_half', SMOKE) == 1


def test_row_configs_inherit_the_shipped_configs():
    """No row restates a pipeline: each names a shipped config as base."""
    for row, spec in row_table.ROWS.items():
        if spec['config'] is None:
            continue
        text = open(osp.join(CONFIG_DIR, spec['config'])).read()
        assert '_base_' in text
        assert 'RandomResizedCrop' not in text, row
    cfg = Config.fromfile(osp.join(CONFIG_DIR, 'csm_ssl_resnet18.py'))
    pipeline = cfg.train_dataloader['dataset']['pipeline']
    # SSL row: the replayed view comes first and is view 0.
    assert pipeline[1]['type'] == 'ReplayCachedView'
    assert pipeline[2]['type'] == 'MultiView'
    assert pipeline[2]['transforms'][0] == []


def test_probe_config_builds(data, tmp_path):
    cfg = row_configs.probe_config(data, SMOKE, 0, None)
    assert cfg.model['backbone']['frozen_stages'] == 4
    assert cfg.model['head']['num_classes'] == 2
    assert cfg.auto_scale_lr['base_batch_size'] == 256
    assert cfg.model['backbone']['init_cfg'] is None
    assert cfg.train_dataloader['dataset']['type'] == 'CustomDataset'
    model = MODELS.build(cfg.model)
    model.train()
    assert not any(p.requires_grad for p in model.backbone.parameters())
    cfg = row_configs.probe_config(data, SMOKE, 0, 'x.pth')
    assert cfg.model['backbone']['init_cfg']['prefix'] == 'backbone.'


def test_set_image_size_reaches_nested_views():
    cfg = Config.fromfile(osp.join(CONFIG_DIR, 'simclr_resnet18.py'))
    pipeline = cfg.train_dataloader['dataset']['pipeline']
    row_configs.set_image_size(pipeline, 48)
    assert pipeline[1]['transforms'][0][0]['scale'] == 48


def test_row_groups_and_profiles_are_derived():
    """Row groups come from the rows' metadata; profiles differ from
    `quick` only where they say so."""
    from beamclip_bench.profiles import PROFILES, QUICK
    for name in row_table.CSM_ROWS:
        spec = row_table.ROWS[name]
        assert spec['teacher'] and spec['passes'] == 1
    assert set(row_table.COMPARED_ROWS).isdisjoint(row_table.CSM_ROWS)
    assert row_table.COMPARED_ROWS[0] == 'simclr'
    assert {'simclr', 'supervised', 'random'} <= set(
        row_table.NO_GAP_CLOSURE)
    changed = {k for k in PROFILES['long'] if PROFILES['long'][k] !=
               QUICK.get(k)}
    assert changed == {'epochs', 'stock_probe', 'curve_every'}
    with pytest.raises(SystemExit, match='unknown row'):
        row_table.check_rows(['csm', 'nope'])
