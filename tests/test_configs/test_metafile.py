"""configs/beamclip/metafile.yml lists every shipped config, and only those."""
import glob
import os.path as osp

import pytest
import test_configs
import yaml
from mmengine.config import Config

ROOT = test_configs.ROOT
METAFILE = osp.join(ROOT, 'configs', 'beamclip', 'metafile.yml')


def models():
    with open(METAFILE, encoding='utf-8') as f:
        return yaml.safe_load(f)['Models']


def test_every_shipped_config_is_listed():
    shipped = {
        osp.relpath(p, ROOT)
        for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'),
                           recursive=True) if '_base_' not in p
    }
    listed = [m['Config'] for m in models()]
    assert len(listed) == len(set(listed))
    assert set(listed) == shipped


@pytest.mark.parametrize('model', models(), ids=lambda m: m['Name'])
def test_listed_config_exists_and_builds(model, tiny_teacher_cfg):
    path = osp.join(ROOT, model['Config'])
    assert osp.isfile(path)
    assert model['Name'] == osp.basename(path)[:-3]
    assert model['In Collection'] == 'BeamCLIP'
    cfg = Config.fromfile(path)
    assert model['Metadata']['Epochs'] == cfg.train_cfg.max_epochs
    test_configs.test_config_builds(path, tiny_teacher_cfg)
