"""End to end through mmpretrain's stock tools, on generated images.

The training folder holds 17 images: with batch 4 the last batch of an epoch
would hold one image, which stops BatchNorm1d unless the loader drops it.
"""
import glob
import os.path as osp
import shutil
import sys

import pytest
import torch
import torchvision
from conftest import probe_options, tool_env, write_image_folder
from mmengine.config import Config
from mmpretrain.registry import MODELS
from tool_process import run_tool

import mmbeamclip  # noqa: F401

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CPU_CONFIG = osp.join(
    ROOT, 'configs/beamclip/'
    'beamclip_resnet18_vit-b32-openai_1xb32-2e_imagefolder.py')
LINEAR_CONFIG = osp.join(
    ROOT,
    'configs/beamclip/benchmarks/resnet18_8xb512-linear-coslr-90e_in1k.py')
MOCO_LINEAR_CONFIG = osp.join(
    ROOT,
    'configs/beamclip/benchmarks/resnet18_8xb32-linear-steplr-100e_in1k.py')


def odd_image_folder(root):
    """2 classes, 9 + 8 train images: one more than a multiple of 4."""
    data = write_image_folder(root)
    extra = osp.join(data, 'train', 'n01440764')
    shutil.copy(osp.join(extra, '0.JPEG'), osp.join(extra, 'extra.JPEG'))
    return data


def stock_train_script():
    """mmpretrain's own tools/train.py, found without importing mmbeamclip
    (as users of tools/dist_train.sh from mmpretrain run it)."""
    import mmpretrain
    return osp.join(osp.dirname(mmpretrain.__file__), '.mim', 'tools',
                    'train.py')


def tiny_options(tiny_clip_dir):
    return [
        '--cfg-options', 'model.target_generator.model_name=tiny',
        f'model.target_generator.pretrained=local-dir:{tiny_clip_dir}',
        'model.neck.out_channels=32', 'train_dataloader.batch_size=4',
        'val_dataloader.batch_size=4', 'test_dataloader.batch_size=4',
        'train_dataloader.num_workers=0', 'val_dataloader.num_workers=0',
        'test_dataloader.num_workers=0'
    ]


def run(args, env, cwd=ROOT, timeout=600, fresh=False):
    proc = run_tool(args, cwd=cwd, env=env, timeout=timeout, fresh=fresh)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    return log


@pytest.fixture(scope='module')
def env(tmp_path_factory):
    data = odd_image_folder(tmp_path_factory.mktemp('data') / 'images')
    return tool_env(tmp_path_factory, DATA_ROOT=data)


def short_imports_config(folder, imports):
    """The CPU config with ``custom_imports`` as users write it (a list or a
    string), which our tools/ accept and mmengine alone refuses."""
    path = osp.join(str(folder), 'short_imports.py')
    with open(path, 'w') as f:
        f.write(f'_base_ = [{CPU_CONFIG!r}]\ncustom_imports = {imports!r}\n')
    return path


@pytest.fixture(scope='module')
def trained(env, tiny_clip_dir, tmp_path_factory):
    """Two epochs (4 iterations each) with the stock tools/train.py, from a
    config that writes ``custom_imports=['mmbeamclip']``."""
    work_dir = str(tmp_path_factory.mktemp('work'))
    # Outside the work dir, where mmengine dumps the merged config.
    config = short_imports_config(
        tmp_path_factory.mktemp('config'), ['mmbeamclip'])
    # A fresh interpreter: the library warnings fire while mmcv and
    # mmengine import, which a run forked after those imports never shows.
    log = run(
        [sys.executable, 'tools/train.py', config, '--work-dir', work_dir] +
        tiny_options(tiny_clip_dir), env, fresh=True)
    return work_dir, log


def test_train_writes_checkpoints_without_teacher(trained):
    work_dir, log = trained
    # Library warnings users cannot act on are filtered by our tools.
    assert 'MultiScaleDeformableAttention' not in log
    assert 'pkg_resources' not in log
    assert 'Building the prompt bank: 2 classes, 14 prompts' in log
    # 17 images, batch 4: the 17th is dropped, not a batch of one.
    assert 'Epoch(train) [2][4/4]' in log and 'loss_csm' in log
    assert 'Epoch(train) [2][5/5]' not in log
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


def test_stock_linear_eval_trains_only_the_head(trained):
    work_dir, _ = trained
    cfg = Config.fromfile(LINEAR_CONFIG)
    cfg.model.backbone.init_cfg.checkpoint = osp.join(work_dir, 'epoch_2.pth')
    model = MODELS.build(cfg.model)
    model.init_weights()
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


# Written by main at 5168501, before the restructure (issue #9), with
# PYTHONPATH at that commit: tests/conftest.py's tiny teacher and image
# folder, then
#   DATA_ROOT=images python tools/train.py \
#       configs/beamclip/\
#           beamclip_resnet18_vit-b32-openai_1xb32-2e_imagefolder.py \
#       --cfg-options <tiny teacher and loaders, as tiny_options> \
#       model.backbone.base_channels=8 model.neck.in_channels=64 \
#       model.neck.hid_channels=64 train_cfg.max_epochs=2
# (a ResNet-18 of width 8 keeps the file at 1.7 MB).
OLD_CHECKPOINT = osp.join(ROOT, 'tests', 'data',
                          'beamclip_tiny_main-5168501_epoch_1.pth')
NARROW = ['model.backbone.base_channels=8', 'model.neck.hid_channels=64']


def test_checkpoint_from_before_the_restructure(env, tiny_clip_dir, tmp_path):
    """Resume, tools/test.py and the stock probe of an old checkpoint.

    The probe runs mmpretrain's own train script (the caller imports no
    mmbeamclip): the probe config's custom_imports brings the
    checkpoint-loader fix (issue #10, defect 1).
    """
    work_dir = str(tmp_path / 'resumed')
    log = run([
        sys.executable, 'tools/train.py', CPU_CONFIG, '--work-dir', work_dir,
        '--resume', OLD_CHECKPOINT
    ] + tiny_options(tiny_clip_dir) + NARROW, env)
    assert 'resumed epoch: 1, iter: 4' in log
    # Teacher ids now hash the whole weight file: the old bank is rebuilt.
    assert 'rebuilding it for the current config' in log
    assert 'Epoch(train) [2][' in log and 'Epoch(train) [1][' not in log
    ckpt = torch.load(
        osp.join(work_dir, 'epoch_2.pth'), map_location='cpu',
        weights_only=False)
    assert ckpt['meta']['epoch'] == 2

    # custom_imports='mmbeamclip' (a string) through our tools/test.py.
    log = run([
        sys.executable, 'tools/test.py',
        short_imports_config(tmp_path, 'mmbeamclip'), OLD_CHECKPOINT,
        '--work-dir', str(tmp_path / 'test')
    ] + tiny_options(tiny_clip_dir) + NARROW, env)
    assert 'Epoch(test)' in log and 'accuracy/top1' in log

    probe_dir = str(tmp_path / 'probe')
    run([
        sys.executable,
        stock_train_script(), MOCO_LINEAR_CONFIG, '--work-dir', probe_dir,
        '--cfg-options',
        f'model.backbone.init_cfg.checkpoint={OLD_CHECKPOINT}',
        'model.backbone.base_channels=8', 'model.neck.in_channels=64',
        'model.head.in_channels=64'
    ] + probe_options(env['DATA_ROOT']), env)
    source = torch.load(OLD_CHECKPOINT, map_location='cpu',
                        weights_only=False)['state_dict']
    probed = torch.load(
        osp.join(probe_dir, 'epoch_1.pth'), map_location='cpu',
        weights_only=False)['state_dict']
    keys = [k for k in source if k.startswith('backbone.')]
    assert keys and set(keys) == {
        k for k in probed if k.startswith('backbone.')}
    # Loaded bit-exact, and the frozen backbone (BN statistics included)
    # did not move while the head trained.
    for key in keys:
        assert torch.equal(probed[key], source[key]), key
    assert probed['head.fc.weight'].abs().sum() > 0
