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
        'train_dataloader.batch_size=4', 'train_cfg.max_epochs=1'
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


def crafted_config_checkpoint(path, marker):
    """A checkpoint whose pickle is clean but whose stored config would run
    a command if executed (``Config.fromstring`` did)."""
    cfg = (f"_x = __import__('os').system('touch {marker}')\n"
           "model = dict(backbone=dict(type='ResNet', depth=18))\n")
    torch.save(
        dict(
            meta=dict(epoch=1, cfg=cfg),
            state_dict={'backbone.conv1.weight': torch.zeros(64, 3, 7, 7)}),
        str(path))
    return str(path)


@pytest.mark.parametrize('how', ['knn_eval', 'pth', 'torchscript', 'onnx'])
def test_stored_config_never_runs(setup, how):
    """Every tool that reads a checkpoint's stored config reads it as data:
    knn_eval and every extract_student format (the plain .pth too, so the
    payload is never carried into a student.pth for the next tool)."""
    tmp, _, _, env, _ = setup
    marker = tmp / f'CFG_MARKER_{how}'
    ckpt = crafted_config_checkpoint(tmp / f'cfg_{how}.pth', marker)
    out = str(tmp / f'student_{how}.out')
    if how == 'knn_eval':
        cmd = ['tools/knn_eval.py', ckpt, '--data-root', env['DATA_ROOT'],
               '--workers', '0', '--img-size', '32']
    else:
        cmd = ['tools/extract_student.py', ckpt, out, '--format', how]
    proc = run_tool([sys.executable] + cmd, cwd=ROOT, env=env, timeout=300)
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0, log[-3000:]
    assert not marker.exists(), 'the stored config was executed'
    assert not osp.exists(out), 'a student was written'
    lines = [line for line in log.splitlines() if 'error' in line]
    assert len(lines) == 1 and ckpt in lines[0], log[-3000:]
    assert 'not plain data' in lines[0] and '--config' in lines[0]
    assert 'Traceback' not in log


def test_extraction_chain_passes_a_data_config_on(setup):
    """extract_student -> student.pth -> knn_eval works with a real stored
    config, which the student carries as data (no payload can ride along:
    a config that is not data is refused at extraction, above)."""
    from mmbeamclip.utils.checkpoint import load_checkpoint
    tmp, _, _, env, _ = setup
    ckpt, student = str(tmp / 'train.pth'), str(tmp / 'student.pth')
    cfg = ("model = dict(backbone=dict(type='ResNet', depth=18, "
           "out_indices=(3, )), data_preprocessor=dict(mean=[0, 0, 0], "
           "std=[255., 255., 255.], to_rgb=True))\n")
    from mmpretrain.models import ResNet
    state = {f'backbone.{k}': v
             for k, v in ResNet(depth=18).state_dict().items()}
    torch.save(dict(meta=dict(cfg=cfg), state_dict=state), ckpt)
    proc = run_tool([sys.executable, 'tools/extract_student.py', ckpt,
                     student], cwd=ROOT, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:]
    stored = load_checkpoint(student)['meta']['cfg']
    assert 'std=[' in stored and '__import__' not in stored
    proc = run_tool([sys.executable, 'tools/knn_eval.py', student,
                     '--data-root', env['DATA_ROOT'], '--workers', '0',
                     '--img-size', '32', '--k', '3'],
                    cwd=ROOT, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert 'k=3' in proc.stdout
