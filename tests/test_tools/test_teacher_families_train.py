"""Every open_clip teacher family trains a student through stock train.py.

The shipped image-folder config, with only the teacher swapped on the
command line for a tiny ``local-dir:`` folder of each family
(``tests/teacher_families.py``) and the neck sized to its ``embed_dim``.
"""
import json
import math
import os.path as osp
import re
import sys

import pytest
import torch
from conftest import tool_env, write_image_folder
from teacher_families import TEACHER_FAMILIES
from tool_process import run_tool

from mmbeamclip.utils.local_dir import read_local_dir_config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(
    ROOT, 'configs/beamclip/'
    'beamclip_resnet18_vit-b32-openai_1xb32-2e_imagefolder.py')
IMG_SIZE = 32


@pytest.fixture(scope='module')
def env(tmp_path_factory):
    # 2 classes x 8 train images, batch 8: 2 iterations per epoch.
    data = write_image_folder(tmp_path_factory.mktemp('data') / 'images')
    # Tiny tensors: a second OpenMP thread only spins against other
    # processes on a shared CPU (9 s instead of 1 s per iteration).
    return tool_env(tmp_path_factory, DATA_ROOT=data, OMP_NUM_THREADS='1')


def family_options(teacher_cfg, embed_dim):
    return [
        '--cfg-options',
        f'model.target_generator.model_name={teacher_cfg["model_name"]}',
        f'model.target_generator.pretrained={teacher_cfg["pretrained"]}',
        f'model.neck.out_channels={embed_dim}', 'model.neck.hid_channels=64',
        'train_cfg.max_epochs=1', 'train_dataloader.batch_size=8',
        'val_dataloader.batch_size=8', 'train_dataloader.num_workers=0',
        'val_dataloader.num_workers=0',
        f'train_dataloader.dataset.pipeline.1.scale={IMG_SIZE}',
        f'val_dataloader.dataset.pipeline.1.scale={IMG_SIZE}',
        f'val_dataloader.dataset.pipeline.2.crop_size={IMG_SIZE}'
    ]


@pytest.mark.parametrize('family', sorted(TEACHER_FAMILIES))
def test_train_one_epoch_with_each_teacher_family(family, env, tmp_path):
    teacher_cfg = TEACHER_FAMILIES[family](str(tmp_path / 'teacher'))
    model_cfg = read_local_dir_config(str(tmp_path / 'teacher'))['model_cfg']
    embed_dim = model_cfg['embed_dim']
    size = model_cfg['vision_cfg']['image_size']
    work_dir = str(tmp_path / 'work')
    proc = run_tool(
        [sys.executable, 'tools/train.py', CONFIG, '--work-dir', work_dir] +
        family_options(teacher_cfg, embed_dim),
        cwd=ROOT,
        env=env,
        timeout=300)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]

    # The teacher the run built is the family's, sized by its folder.
    assert f'"model": "{teacher_cfg["model_name"]}"' in log
    assert (f'embed_dim={embed_dim}, image_size=({size}, {size})') in log
    assert 'Building the prompt bank: 2 classes, 14 prompts' in log
    assert 'Epoch(train) [1][2/2]' in log
    losses = [float(v) for v in re.findall(r'loss_csm: (\S+)', log)]
    assert losses and all(math.isfinite(v) for v in losses)
    assert 'accuracy/top1' in log  # zero-shot val through the family's bank

    ckpt = torch.load(
        osp.join(work_dir, 'epoch_1.pth'), map_location='cpu',
        weights_only=False)
    state = ckpt['state_dict']
    assert not any(k.startswith('target_generator.') for k in state)
    assert state['head.prompt_bank'].shape == (2, embed_dim)
    teacher_id = json.loads(ckpt['meta']['mmbeamclip']['teacher'])
    assert teacher_id['model'] == teacher_cfg['model_name']
    assert teacher_id['source'].startswith('local-dir:')
