"""End to end through mmpretrain's stock tools, on generated images."""
import glob
import os
import os.path as osp
import socket
import subprocess
import sys

import pytest
import torch
import torchvision
from conftest import write_image_folder
from mmengine.config import Config
from mmpretrain.registry import MODELS

import mmbeamclip  # noqa: F401

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CPU_CONFIG = osp.join(
    ROOT, 'configs/beamclip/beamclip_resnet18_vit-b32-openai_1xb32-2e_imagefolder.py')
LINEAR_CONFIG = osp.join(
    ROOT, 'configs/beamclip/benchmarks/resnet18_8xb512-linear-coslr-90e_in1k.py')


def tiny_options(tiny_clip_dir):
    return [
        '--cfg-options', 'model.target_generator.model_name=tiny',
        f'model.target_generator.pretrained=local-dir:{tiny_clip_dir}',
        'model.neck.out_channels=32', 'train_dataloader.batch_size=4',
        'val_dataloader.batch_size=4', 'test_dataloader.batch_size=4',
        'train_dataloader.num_workers=0', 'val_dataloader.num_workers=0',
        'test_dataloader.num_workers=0'
    ]


def run(args, env, cwd=ROOT, timeout=600):
    proc = subprocess.run(
        args,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    return log


@pytest.fixture(scope='module')
def env(tmp_path_factory):
    data = write_image_folder(tmp_path_factory.mktemp('data') / 'images')
    env = dict(
        os.environ,
        DATA_ROOT=data,
        HF_HUB_OFFLINE='1',
        MMBEAMCLIP_CACHE=str(tmp_path_factory.mktemp('cache')),
        PYTHONPATH=os.pathsep.join([ROOT, os.environ.get('PYTHONPATH', '')]))
    return env


@pytest.fixture(scope='module')
def trained(env, tiny_clip_dir, tmp_path_factory):
    """Two epochs (4 iterations each) with the stock tools/train.py."""
    work_dir = str(tmp_path_factory.mktemp('work'))
    log = run([
        sys.executable, 'tools/train.py', CPU_CONFIG, '--work-dir', work_dir
    ] + tiny_options(tiny_clip_dir), env)
    return work_dir, log


def test_train_writes_checkpoints_without_teacher(trained):
    work_dir, log = trained
    assert 'Building the prompt bank: 2 classes, 14 prompts' in log
    assert 'Epoch(train) [2][4/4]' in log and 'loss_csm' in log
    assert 'accuracy/top1' in log  # zero-shot val ran
    ckpt = torch.load(
        osp.join(work_dir, 'epoch_2.pth'), map_location='cpu',
        weights_only=False)
    keys = ckpt['state_dict'].keys()
    assert not any(k.startswith('target_generator.') for k in keys)
    assert ckpt['state_dict']['head.prompt_bank'].shape == (2, 32)
    meta = ckpt['meta']['mmbeamclip']
    assert meta['num_classes'] == 2 and meta['world_size'] == 1
    assert meta['bank_key'] == bytes(
        ckpt['state_dict']['head.bank_hash'].tolist()).hex()


def test_resume_continues(trained, env, tiny_clip_dir, tmp_path):
    work_dir, _ = trained
    log = run([
        sys.executable, 'tools/train.py', CPU_CONFIG, '--work-dir',
        str(tmp_path), '--resume',
        osp.join(work_dir, 'epoch_1.pth')
    ] + tiny_options(tiny_clip_dir), env)
    assert 'resumed epoch: 1, iter: 4' in log
    assert 'Epoch(train) [1]' not in log and 'Epoch(train) [2][4/4]' in log
    # the bank came with the checkpoint: nothing rebuilt, nothing warned
    assert 'Building the prompt bank' not in log
    assert 'rebuilding' not in log
    ckpt = torch.load(
        tmp_path / 'epoch_2.pth', map_location='cpu', weights_only=False)
    assert ckpt['meta']['epoch'] == 2 and ckpt['meta']['iter'] == 8


def test_resume_with_other_prompts_warns_and_rebuilds(trained, env,
                                                      tiny_clip_dir,
                                                      tmp_path):
    work_dir, _ = trained
    log = run([
        sys.executable, 'tools/train.py', CPU_CONFIG, '--work-dir',
        str(tmp_path), '--resume',
        osp.join(work_dir, 'epoch_1.pth')
    ] + tiny_options(tiny_clip_dir) + ['custom_hooks.0.templates=vanilla'],
              env)
    assert 'rebuilding it for the current config' in log
    assert 'Building the prompt bank: 2 classes, 2 prompts' in log


def test_stock_test_tool_runs_zero_shot_val(trained, env, tiny_clip_dir):
    work_dir, _ = trained
    log = run([
        sys.executable, 'tools/test.py', CPU_CONFIG,
        osp.join(work_dir, 'epoch_2.pth'), '--work-dir', work_dir
    ] + tiny_options(tiny_clip_dir), env)
    assert 'Epoch(test)' in log and 'accuracy/top1' in log
    assert 'Building the prompt bank' not in log


def test_stock_linear_eval_loads_distilled_backbone(trained):
    work_dir, _ = trained
    ckpt = osp.join(work_dir, 'epoch_2.pth')
    cfg = Config.fromfile(LINEAR_CONFIG)
    cfg.model.backbone.init_cfg.checkpoint = ckpt
    model = MODELS.build(cfg.model)
    model.init_weights()
    state = torch.load(ckpt, map_location='cpu',
                       weights_only=False)['state_dict']
    for name, value in model.backbone.state_dict().items():
        assert torch.equal(value, state['backbone.' + name]), name
    model.train()
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable == ['head.fc.weight', 'head.fc.bias']


def test_extract_student_loads_into_torchvision(trained, env, tmp_path):
    work_dir, _ = trained
    ckpt = osp.join(work_dir, 'epoch_2.pth')
    out = str(tmp_path / 'resnet18.pth')
    run([
        sys.executable, 'tools/extract_student.py', ckpt, out,
        '--torchvision'
    ], env)
    net = torchvision.models.resnet18()
    result = net.load_state_dict(torch.load(out), strict=False)
    assert sorted(result.missing_keys) == ['fc.bias', 'fc.weight']
    assert result.unexpected_keys == []

    # The same features as the mmpretrain student.
    cfg = Config.fromfile(LINEAR_CONFIG)
    cfg.model.backbone.init_cfg.checkpoint = ckpt
    student = MODELS.build(cfg.model).backbone
    student.init_weights()
    student.eval()
    net.eval()
    x = torch.randn(2, 3, 64, 64)
    trunk = torch.nn.Sequential(*list(net.children())[:-2])
    torch.testing.assert_close(trunk(x), student(x)[-1])

    # Default output: backbone.* keys and provenance, nothing for resuming.
    mm_out = str(tmp_path / 'student.pth')
    run([sys.executable, 'tools/extract_student.py', ckpt, mm_out], env)
    student_ckpt = torch.load(mm_out, weights_only=False)
    assert all(k.startswith('backbone.') for k in student_ckpt['state_dict'])
    assert 'mmbeamclip' in student_ckpt['meta']
    assert 'message_hub' not in student_ckpt['meta']


def test_build_prompt_bank_tool_fills_the_training_cache(
        env, tiny_clip_dir, tmp_path):
    cache = str(tmp_path / 'banks')
    log = run([
        sys.executable, 'tools/build_prompt_bank.py', CPU_CONFIG,
        '--cache-dir', cache
    ] + tiny_options(tiny_clip_dir), env)
    assert 'Prompt bank' in log and '(2, 32)' in log
    assert len(glob.glob(osp.join(cache, 'prompt_bank_*.pth'))) == 1
    log = run([
        sys.executable, 'tools/train.py', CPU_CONFIG, '--work-dir',
        str(tmp_path / 'work')
    ] + tiny_options(tiny_clip_dir) + [
        f'custom_hooks.0.cache_dir={cache}', 'train_cfg.max_epochs=1'
    ], env)
    assert 'Loaded the prompt bank from' in log
    assert 'Building the prompt bank' not in log


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_dist_train_two_cpu_processes(env, tiny_clip_dir, tmp_path):
    work_dir = str(tmp_path)
    log = run([
        'bash', 'tools/dist_train.sh', CPU_CONFIG, '2', '--work-dir',
        work_dir
    ] + tiny_options(tiny_clip_dir) + ['train_cfg.max_epochs=1'],
              dict(env, PORT=str(_free_port())))
    assert 'Distributed training: True' in log
    # 16 images over 2 ranks x batch 4: 2 iterations per epoch
    assert 'Epoch(train) [1][2/2]' in log
    ckpt = torch.load(
        osp.join(work_dir, 'epoch_1.pth'), map_location='cpu',
        weights_only=False)
    assert ckpt['meta']['mmbeamclip']['world_size'] == 2
