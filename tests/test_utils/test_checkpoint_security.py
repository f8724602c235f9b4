"""A crafted checkpoint is refused by every stock tool path (subprocesses).

Before, importing mmbeamclip re-registered mmengine's loader with
``weights_only=False``, so each of these ran the file's command. Resuming
and testing real checkpoints through the same loader is covered by
``tests/test_tools/test_train_e2e.py`` and ``tests/test_readme_commands.py``.
"""
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from conftest import write_image_folder
from tool_process import run_tool

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(
    ROOT, 'configs/beamclip/'
    'beamclip_resnet18_vit-b32-openai_1xb32-2e_imagefolder.py')


class RunsCommand:

    def __init__(self, *args):
        self.args = args

    def __reduce__(self):
        return subprocess.call, self.args


@pytest.fixture(scope='module')
def setup(tmp_path_factory, tiny_clip_dir):
    tmp = tmp_path_factory.mktemp('security')
    marker = tmp / 'MARKER'
    evil = str(tmp / 'evil.pth')
    # Looks like a checkpoint; unpickling it would create the marker.
    torch.save(
        dict(
            meta=dict(epoch=1, iter=4),
            state_dict={'backbone.conv1.weight': torch.zeros(1)},
            message_hub=RunsCommand(['touch', str(marker)])), evil)
    env = dict(
        os.environ,
        DATA_ROOT=write_image_folder(tmp / 'images'),
        HF_HUB_OFFLINE='1',
        MMBEAMCLIP_CACHE=str(tmp / 'cache'),
        PYTHONPATH=os.pathsep.join([ROOT, os.environ.get('PYTHONPATH', '')]))
    options = [
        '--cfg-options', 'model.target_generator.model_name=tiny',
        f'model.target_generator.pretrained=local-dir:{tiny_clip_dir}',
        'model.neck.out_channels=32', 'train_dataloader.num_workers=0',
        'val_dataloader.num_workers=0', 'test_dataloader.num_workers=0',
        'train_cfg.max_epochs=1'
    ]
    return tmp, marker, evil, env, options


@pytest.mark.parametrize('how', ['load_from', 'resume', 'test', 'pretrained'])
def test_stock_tools_refuse_crafted_checkpoint(setup, how):
    tmp, marker, evil, env, options = setup
    work_dir = str(tmp / f'work_{how}')
    tool, extra = 'tools/train.py', []
    if how == 'load_from':
        options = options + [f'load_from={evil}']
    elif how == 'resume':
        extra = ['--resume', evil]
    elif how == 'test':
        tool, extra = 'tools/test.py', [evil]
    else:
        options = options + [
            'model.backbone.init_cfg.type=Pretrained',
            f'model.backbone.init_cfg.checkpoint={evil}',
            'model.backbone.init_cfg.prefix=backbone.'
        ]
    proc = run_tool(
        [sys.executable, tool, CONFIG] + extra + ['--work-dir', work_dir] +
        options,
        cwd=ROOT,
        env=env,
        timeout=300)
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0, log[-3000:]
    assert f'Refused to load {evil}' in log, log[-3000:]
    assert 'call was not an allowed global' in log  # names the culprit
    assert not marker.exists()
    assert not [f for f in os.listdir(work_dir) if f.endswith('.pth')]
